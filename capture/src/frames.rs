//! The instruction the program is at, read from CPython 3.11's interpreter
//! frame. `PyEval_GetFrame` makes a frame *object* for the running frame
//! when it has none (and the interpreter frees it when the frame returns):
//! in a traced method call that was ~500 instructions, and more code for
//! the instruction cache, per call, only to learn where the call is. Here
//! the thread state's current frame gives (code object, instruction
//! pointer), which is all the location cache needs; CPython is asked for a
//! frame object only when an instruction is seen for the first time.
//!
//! The layout read here is CPython 3.11's (x86-64 and other LP64 targets):
//! `PyThreadState.cframe`, `_PyCFrame.current_frame`,
//! `_PyInterpreterFrame.f_code` and `.prev_instr`. It is checked once, at
//! import, against what `PyEval_GetFrame` reports; if anything differs
//! (another CPython version, a different build) locations are found the
//! slower way, with the same results.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;

/// Offsets, in bytes, of the fields read (CPython 3.11, 64-bit).
const THREAD_STATE_CFRAME: usize = 56;
const CFRAME_CURRENT_FRAME: usize = 8;
const FRAME_CODE: usize = 32;
const FRAME_OBJECT: usize = 40;
const FRAME_PREVIOUS_INSTRUCTION: usize = 56;
/// `PyFrameObject.f_frame`: the interpreter frame a frame object shows.
const FRAME_OBJECT_FRAME: usize = 24;
/// `_PyInterpreterFrame.previous`: the frame that called (or resumed) it.
const FRAME_PREVIOUS: usize = 48;

static CHECKED: AtomicBool = AtomicBool::new(false);

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

/// The running interpreter frame per the layout above, or null.
///
/// # Safety
/// GIL held; the layout must have been checked (or be under check).
unsafe fn current_frame() -> *const u8 {
    let thread = ffi::PyThreadState_Get() as *const u8;
    let cframe = field(thread, THREAD_STATE_CFRAME);
    if cframe.is_null() {
        return std::ptr::null();
    }
    field(cframe, CFRAME_CURRENT_FRAME)
}

/// Checks the layout against the frame object CPython gives for the
/// running frame (the importer's, when called at import) and enables
/// [`current_instruction`] if every field agrees.
pub fn install(py: Python<'_>) {
    if py.version_info() < (3, 11) || py.version_info() >= (3, 12) {
        return;
    }
    // SAFETY: GIL held. On 3.11 the thread state and the frames are laid
    // out as read here; each read is checked against CPython's own answer
    // before any reading outside this function relies on it.
    let agrees = unsafe {
        let frame_object = ffi::PyEval_GetFrame();
        if frame_object.is_null() {
            return;
        }
        let shown = field(frame_object as *const u8, FRAME_OBJECT_FRAME);
        let running = current_frame();
        let code = ffi::PyFrame_GetCode(frame_object);
        let agrees = !running.is_null()
            && running == shown
            && field(running, FRAME_OBJECT) == frame_object as *const u8
            && field(running, FRAME_CODE) == code as *const u8
            && !field(running, FRAME_PREVIOUS_INSTRUCTION).is_null();
        ffi::Py_DECREF(code as *mut ffi::PyObject);
        agrees
    };
    CHECKED.store(agrees, Ordering::Relaxed);
}

/// Whether [`current_instruction`] reads frames directly.
pub fn installed() -> bool {
    CHECKED.load(Ordering::Relaxed)
}

/// (code object address, instruction address) of the running Python
/// frame; `None` when there is none or the layout was not confirmed. The
/// code object is kept alive by the frame for the duration of the caller's
/// operation only.
pub fn current_instruction(_py: Python<'_>) -> Option<(usize, usize)> {
    if !CHECKED.load(Ordering::Relaxed) {
        return None;
    }
    // SAFETY: GIL held (the token); layout confirmed at install.
    unsafe {
        let mut frame = current_frame();
        if frame.is_null() {
            return None;
        }
        if field(frame, FRAME_CODE) as usize == SKIPPED_CODE.load(Ordering::Relaxed) {
            frame = field(frame, FRAME_PREVIOUS);
            if frame.is_null() {
                return None;
            }
        }
        Some((
            field(frame, FRAME_CODE) as usize,
            field(frame, FRAME_PREVIOUS_INSTRUCTION) as usize,
        ))
    }
}
