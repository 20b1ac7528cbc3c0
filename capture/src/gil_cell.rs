//! Process-wide state guarded by the GIL instead of a mutex (the
//! recorder, reached on every node). The extension is built for CPython
//! with a GIL and every access holds it, which already serialises them;
//! a mutex added two atomic read-modify-writes per node. A borrow flag
//! turns a re-entrant access (a finalizer the GC runs while the state is
//! in use, tracing an operation of its own) into an empty value for that
//! access instead of a second mutable borrow (with a mutex it was a
//! deadlock).

use std::cell::{Cell, UnsafeCell};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use pyo3::Python;

/// An `Option<T>` reached only with the GIL held (see the module doc).
pub struct GilCell<T> {
    value: UnsafeCell<Option<T>>,
    borrowed: Cell<bool>,
}

// SAFETY: only reached through `lock`, which needs a `Python` token (the
// GIL), so by one thread at a time; T moves between threads with it.
unsafe impl<T: Send> Sync for GilCell<T> {}

impl<T> GilCell<T> {
    pub const fn new() -> Self {
        GilCell {
            value: UnsafeCell::new(None),
            borrowed: Cell::new(false),
        }
    }

    /// The value, for as long as the guard lives; an empty one if this
    /// thread is already inside another access.
    pub fn lock<'py>(&'static self, _py: Python<'py>) -> GilGuard<'py, T> {
        let reentrant = self.borrowed.replace(true);
        GilGuard {
            cell: (!reentrant).then_some(self),
            empty: None,
            _gil: PhantomData,
        }
    }
}

/// Access to a [`GilCell`]'s value.
pub struct GilGuard<'py, T: 'static> {
    /// None for a re-entrant access, which sees `empty`.
    cell: Option<&'static GilCell<T>>,
    empty: Option<T>,
    _gil: PhantomData<Python<'py>>,
}

impl<T> Deref for GilGuard<'_, T> {
    type Target = Option<T>;

    fn deref(&self) -> &Option<T> {
        match self.cell {
            // SAFETY: the borrow flag makes this the only access.
            Some(cell) => unsafe { &*cell.value.get() },
            None => &self.empty,
        }
    }
}

impl<T> DerefMut for GilGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut Option<T> {
        match self.cell {
            // SAFETY: the borrow flag makes this the only access.
            Some(cell) => unsafe { &mut *cell.value.get() },
            None => &mut self.empty,
        }
    }
}

impl<T> Drop for GilGuard<'_, T> {
    fn drop(&mut self) {
        if let Some(cell) = self.cell {
            cell.borrowed.set(false);
        }
    }
}
