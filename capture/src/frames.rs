//! The instruction the program is at, read from the interpreter's frame.
//! `PyEval_GetFrame` makes a frame *object* for the running frame when it
//! has none (and the interpreter frees it when the frame returns): in a
//! traced method call that was ~500 instructions, and more code for the
//! instruction cache, per call, only to learn where the call is. Here the
//! thread state's current frame gives (code object, instruction pointer),
//! which is all the location cache needs; CPython is asked for a frame
//! object only when an instruction is seen for the first time.
//!
//! The layouts read here are CPython 3.11's, 3.12's and 3.13's (x86-64 and
//! other LP64 targets; offsets from each version's headers with
//! `offsetof`): the thread state's current interpreter frame (through
//! `cframe` before 3.13), and the frame's code object (`f_code`,
//! `f_executable` in 3.13), instruction pointer (`prev_instr`, `instr_ptr`
//! in 3.13), frame object and previous frame. The layout is checked once,
//! at import, against what `PyEval_GetFrame` reports; if anything differs
//! (another version, a different build) locations are found the slower
//! way, with the same results.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;

/// Offsets, in bytes, of the fields read, for one CPython version.
struct Layout {
    /// From the thread state to its current interpreter frame: one field
    /// (3.13), or the `cframe` and its `current_frame` (3.11, 3.12).
    current_frame: &'static [usize],
    code: usize,
    object: usize,
    instruction: usize,
    previous: usize,
}

fn layout_of(version: (u8, u8)) -> Option<Layout> {
    match version {
        (3, 11) => Some(Layout {
            current_frame: &[56, 8],
            code: 32,
            object: 40,
            instruction: 56,
            previous: 48,
        }),
        (3, 12) => Some(Layout {
            current_frame: &[56, 0],
            code: 0,
            object: 48,
            instruction: 56,
            previous: 8,
        }),
        (3, 13) => Some(Layout {
            current_frame: &[72],
            code: 0,
            object: 48,
            instruction: 56,
            previous: 8,
        }),
        _ => None,
    }
}

/// `PyFrameObject.f_frame`: the interpreter frame a frame object shows
/// (the same in every version read here).
const FRAME_OBJECT_FRAME: usize = 24;

/// The layout of the running CPython, once the check at import passed.
static LAYOUT: OnceLock<Layout> = OnceLock::new();

/// hltpy's own code whose frame is not where the program is (the runner
/// of traced coroutines): a location is its caller's. Set once.
static SKIPPED_CODE: AtomicUsize = AtomicUsize::new(0);

/// Locations found in frames of `code` are their caller's.
pub fn skip_code(code: &Bound<'_, PyAny>) {
    SKIPPED_CODE.store(code.as_ptr() as usize, Ordering::Relaxed);
}

/// The program's frame object: the running one, or its caller when the
/// running one is hltpy's own (borrowed; null when there is none).
///
/// # Safety
/// GIL held.
pub unsafe fn program_frame_object() -> *mut ffi::PyFrameObject {
    let frame = ffi::PyEval_GetFrame();
    if frame.is_null() {
        return frame;
    }
    let skipped = SKIPPED_CODE.load(Ordering::Relaxed);
    let code = ffi::PyFrame_GetCode(frame);
    ffi::Py_DECREF(code as *mut ffi::PyObject);
    if code as usize != skipped {
        return frame;
    }
    // A strong reference; the caller's frame stays alive while this one runs.
    let back = ffi::PyFrame_GetBack(frame);
    if !back.is_null() {
        ffi::Py_DECREF(back as *mut ffi::PyObject);
    }
    back
}

/// Reads a pointer `offset` bytes into `base`.
///
/// # Safety
/// `base + offset` must be a readable, aligned pointer-sized field.
unsafe fn field(base: *const u8, offset: usize) -> *const u8 {
    *(base.add(offset) as *const *const u8)
}

/// The running interpreter frame per `layout`, or null.
///
/// # Safety
/// GIL held; the layout must have been checked (or be under check).
unsafe fn current_frame(layout: &Layout) -> *const u8 {
    let mut at = ffi::PyThreadState_Get() as *const u8;
    for &offset in layout.current_frame {
        if at.is_null() {
            return at;
        }
        at = field(at, offset);
    }
    at
}

/// Checks the running version's layout against the frame object CPython
/// gives for the running frame (the importer's, when called at import)
/// and enables [`current_instruction`] if every field agrees.
pub fn install(py: Python<'_>) {
    let version = py.version_info();
    let Some(layout) = layout_of((version.major, version.minor)) else {
        return;
    };
    // SAFETY: GIL held. The offsets are this version's; each read is
    // checked against CPython's own answer before any reading outside
    // this function relies on it.
    let agrees = unsafe {
        let frame_object = ffi::PyEval_GetFrame();
        if frame_object.is_null() {
            return;
        }
        let shown = field(frame_object as *const u8, FRAME_OBJECT_FRAME);
        let running = current_frame(&layout);
        let code = ffi::PyFrame_GetCode(frame_object);
        let agrees = !running.is_null()
            && running == shown
            && field(running, layout.object) == frame_object as *const u8
            && field(running, layout.code) == code as *const u8
            && !field(running, layout.instruction).is_null();
        ffi::Py_DECREF(code as *mut ffi::PyObject);
        agrees
    };
    if agrees {
        let _ = LAYOUT.set(layout);
    }
}

/// Whether [`current_instruction`] reads frames directly.
pub fn installed() -> bool {
    LAYOUT.get().is_some()
}

/// (code object address, instruction address) of the running Python
/// frame; `None` when there is none or the layout was not confirmed. The
/// code object is kept alive by the frame for the duration of the caller's
/// operation only.
pub fn current_instruction(_py: Python<'_>) -> Option<(usize, usize)> {
    let layout = LAYOUT.get()?;
    // SAFETY: GIL held (the token); layout confirmed at install.
    unsafe {
        let mut frame = current_frame(layout);
        if frame.is_null() {
            return None;
        }
        if field(frame, layout.code) as usize == SKIPPED_CODE.load(Ordering::Relaxed) {
            frame = field(frame, layout.previous);
            if frame.is_null() {
                return None;
            }
        }
        Some((
            field(frame, layout.code) as usize,
            field(frame, layout.instruction) as usize,
        ))
    }
}
