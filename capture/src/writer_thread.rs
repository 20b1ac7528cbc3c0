//! The writer thread: builds the Arrow columns of the rows the recorder
//! hands over (or takes a batch the recorder built itself when the thread
//! was behind) and writes them with the schema crate's `RunWriter`, off
//! the program's path; it gives the rows' storage back to be reused.

use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use arrow_array::RecordBatch;
use hltpy_schema::{PendingBatch, RunWriter, Storage, TraceError};

/// What the recorder sends its writer thread: rows, or (when the writer
/// was behind) a batch already built.
pub enum Outgoing {
    Rows(PendingBatch),
    Batch(RecordBatch),
}

/// The running writer thread, from the recorder's side.
pub struct WriterThread {
    /// Where rows go; None once the thread stopped on an error.
    pub batches: Option<SyncSender<Outgoing>>,
    /// Row storage the thread is done with, to be written again.
    pub returned: Receiver<Storage>,
    pub handle: Option<JoinHandle<Result<RunWriter, TraceError>>>,
}

/// Starts the thread that writes into `writer`.
pub fn spawn(writer: RunWriter) -> std::io::Result<WriterThread> {
    // A small bound keeps memory flat if the disk is slower than the program.
    let (sender, receiver) = sync_channel::<Outgoing>(4);
    let (give_back, returned) = channel::<Storage>();
    let handle = std::thread::Builder::new()
        .name("hltpy-writer".into())
        .spawn(move || {
            let mut writer = writer;
            for batch in receiver {
                let batch = match batch {
                    Outgoing::Rows(rows) => {
                        let (batch, storage) = rows.build();
                        // The recorder may be gone (the capture stopped).
                        let _ = give_back.send(storage);
                        batch
                    }
                    Outgoing::Batch(batch) => batch,
                };
                writer.write(&batch)?;
            }
            Ok(writer)
        })?;
    Ok(WriterThread {
        batches: Some(sender),
        returned,
        handle: Some(handle),
    })
}
