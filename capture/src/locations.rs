//! Where the user's operation is in the source: (file, line) of the
//! running instruction, cached per (code object, instruction) because
//! asking CPython for a line number decodes the line table every time
//! (and needs a frame object). The recorder asks on every node.

use pyo3::ffi;
use pyo3::prelude::*;
use rustc_hash::FxHashMap;

use crate::frames;

/// Where the user's operation is: (file index, line), cached per
/// (code object, instruction) because asking CPython for a line number
/// decodes the line table every time (and needs a frame object).
#[derive(Default)]
pub struct Locations {
    /// The last instructions looked up, by their address's low bits: a
    /// loop's few instructions are found with one comparison, not a hash.
    recent: RecentLocations,
    lines: FxHashMap<(usize, usize), (u32, u32)>,
    /// Code objects seen, kept alive so their addresses cannot be reused
    /// by another code object while the cache refers to them.
    files: FxHashMap<usize, (Py<PyAny>, u32)>,
}

/// Slots of the direct-mapped cache in front of [`Locations::lines`].
const RECENT_LOCATIONS: usize = 64;

/// (instruction, file, line) per slot; instruction (0, 0) is empty.
struct RecentLocations([((usize, usize), u32, u32); RECENT_LOCATIONS]);

impl Default for RecentLocations {
    fn default() -> Self {
        RecentLocations([((0, 0), 0, 0); RECENT_LOCATIONS])
    }
}

impl RecentLocations {
    fn slot(instruction: (usize, usize)) -> usize {
        // Instructions are two bytes apart (or offsets that step by two).
        (instruction.1 >> 1) % RECENT_LOCATIONS
    }
}

impl Locations {
    /// The user's instruction, source file and line; a file seen for the
    /// first time gets its index from `intern_file`.
    pub fn caller_location(
        &mut self,
        py: Python<'_>,
        intern_file: impl FnOnce(&str) -> u32,
    ) -> (Option<(usize, usize)>, Option<u32>, Option<u32>) {
        // SAFETY: called with the GIL held; frames and code objects are
        // borrowed for this call only, a code object kept is owned.
        unsafe {
            let instruction = match frames::current_instruction(py) {
                Some(instruction) => instruction,
                None => {
                    let frame = frames::program_frame_object();
                    if frame.is_null() {
                        return (None, None, None);
                    }
                    let code = ffi::PyFrame_GetCode(frame) as *mut ffi::PyObject;
                    ffi::Py_DECREF(code);
                    (code as usize, ffi::PyFrame_GetLasti(frame) as usize)
                }
            };
            let slot = RecentLocations::slot(instruction);
            let (recent, file, line) = self.recent.0[slot];
            if recent == instruction {
                return (Some(instruction), Some(file), Some(line));
            }
            if let Some(&(file, line)) = self.lines.get(&instruction) {
                self.recent.0[slot] = (instruction, file, line);
                return (Some(instruction), Some(file), Some(line));
            }
            // First time at this instruction: the line from a frame object.
            let frame = frames::program_frame_object();
            let line = if frame.is_null() {
                0
            } else {
                ffi::PyFrame_GetLineNumber(frame).max(0) as u32
            };
            let code_key = instruction.0;
            let file = match self.files.get(&code_key) {
                Some((_, file)) => *file,
                None => {
                    let code = Bound::from_borrowed_ptr(py, code_key as *mut ffi::PyObject);
                    let name = code
                        .getattr(pyo3::intern!(py, "co_filename"))
                        .and_then(|f| f.extract::<String>())
                        .unwrap_or_else(|_| "<unknown>".into());
                    let file = intern_file(&name);
                    self.files.insert(code_key, (code.unbind(), file));
                    file
                }
            };
            self.lines.insert(instruction, (file, line));
            self.recent.0[slot] = (instruction, file, line);
            (Some(instruction), Some(file), Some(line))
        }
    }
}
