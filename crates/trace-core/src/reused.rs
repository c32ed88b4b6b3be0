//! [`Reused`]: a span's state on the heap, in a box its thread reuses.
//!
//! A `TracedSpan` holds a recording span's bare SDK span (a few hundred bytes) or a
//! non-recording span's parent, span context and lazily built context (about a hundred
//! bytes). Inline, they would make every `TracedSpan` that large, so that every move of
//! one (returned from `start`, passed to `end`, held in a future) copies them, disabled
//! spans included. A fresh box per span would be an allocation. So the state goes in a
//! box taken from a small per-thread stock of empty boxes, and the box goes back to the
//! stock of the thread the span ends on once what it held is released.

use std::cell::RefCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::thread::LocalKey;

/// Empty boxes kept per thread and per kind of state.
const SPARE_BOXES: usize = 64;

/// A thread's stock of empty boxes. The boxes themselves are what is reused, so a
/// `Vec<T>` would not do.
#[allow(clippy::vec_box)]
pub(crate) type Stock<T> = RefCell<Vec<Box<T>>>;

/// A kind of state kept in [`Reused`] boxes.
pub(crate) trait Spare: Sized + 'static {
    /// This thread's stock of empty boxes of this kind.
    fn stock() -> &'static LocalKey<Stock<Self>>;

    /// The state of a spare box: holds nothing, releases nothing when dropped.
    fn empty() -> Self;

    /// Releases what the state holds, leaving it as [`empty`](Self::empty) would be;
    /// cheaper than writing a whole empty state over it.
    fn clear(&mut self) {
        *self = Self::empty();
    }
}

/// A `T` in a box from this thread's stock; always `Some` until dropped or taken apart.
pub(crate) struct Reused<T: Spare>(Option<Box<T>>);

impl<T: Spare> Reused<T> {
    /// An empty box from this thread's stock, if it has one; fill it, then
    /// [`from_box`](Self::from_box).
    #[inline]
    pub(crate) fn spare() -> Option<Box<T>> {
        T::stock()
            .try_with(|stock| stock.try_borrow_mut().ok()?.pop())
            .ok()
            .flatten()
    }

    #[inline]
    pub(crate) fn from_box(boxed: Box<T>) -> Self {
        Self(Some(boxed))
    }

    /// The state itself; the box goes back to this thread's stock.
    pub(crate) fn into_inner(mut self) -> T {
        match self.0.take() {
            Some(mut boxed) => {
                let value = std::mem::replace(&mut *boxed, T::empty());
                recycle(boxed);
                value
            }
            None => T::empty(),
        }
    }
}

/// Keeps an emptied box for this thread's next span, unless the stock is full (or in
/// use, or gone with the thread): then it is freed.
fn recycle<T: Spare>(boxed: Box<T>) {
    let _ = T::stock().try_with(|stock| {
        if let Ok(mut stock) = stock.try_borrow_mut()
            && stock.len() < SPARE_BOXES
        {
            stock.push(boxed);
        }
    });
}

impl<T: Spare> Deref for Reused<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        self.0
            .as_deref()
            .expect("a span's state is boxed while it lives")
    }
}

impl<T: Spare> DerefMut for Reused<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.0
            .as_deref_mut()
            .expect("a span's state is boxed while it lives")
    }
}

impl<T: Spare> Drop for Reused<T> {
    fn drop(&mut self) {
        if let Some(mut boxed) = self.0.take() {
            // Releases what the state holds (ending a span that was not ended) before
            // the stock is touched: a processor's `on_end` may start spans of its own.
            boxed.clear();
            recycle(boxed);
        }
    }
}

impl<T: Spare + fmt::Debug> fmt::Debug for Reused<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    thread_local! {
        static STOCK: Stock<Probe> = const { RefCell::new(Vec::new()) };
        static RELEASED: Cell<usize> = const { Cell::new(0) };
    }

    /// Counts releases; a probe at `nested` makes and drops another while released,
    /// as a processor's `on_end` may start and end a span.
    #[derive(Debug)]
    struct Probe {
        held: bool,
        nested: bool,
    }

    impl Spare for Probe {
        fn stock() -> &'static LocalKey<Stock<Self>> {
            &STOCK
        }

        fn empty() -> Self {
            Self {
                held: false,
                nested: false,
            }
        }
    }

    impl Drop for Probe {
        fn drop(&mut self) {
            if self.held {
                RELEASED.with(|r| r.set(r.get() + 1));
            }
            if self.nested {
                drop(probe(false));
            }
        }
    }

    fn probe(nested: bool) -> Reused<Probe> {
        let boxed = match Reused::<Probe>::spare() {
            Some(mut boxed) => {
                boxed.held = true;
                boxed.nested = nested;
                boxed
            }
            None => Box::new(Probe { held: true, nested }),
        };
        Reused::from_box(boxed)
    }

    fn stocked() -> usize {
        STOCK.with(|stock| stock.borrow().len())
    }

    #[test]
    fn a_dropped_state_is_released_and_its_box_reused() {
        let first = probe(false);
        let address = std::ptr::from_ref::<Probe>(&first);
        let released = RELEASED.with(Cell::get);
        drop(first);
        assert_eq!(RELEASED.with(Cell::get), released + 1, "released on drop");
        assert_eq!(stocked(), 1);
        let second = probe(false);
        assert_eq!(
            std::ptr::from_ref::<Probe>(&second),
            address,
            "the same box"
        );
        assert_eq!(stocked(), 0);
        let inner = second.into_inner();
        assert!(inner.held, "into_inner hands the state over");
        assert_eq!(stocked(), 1, "and keeps the box");
        drop(inner);
        assert_eq!(RELEASED.with(Cell::get), released + 2);
    }

    #[test]
    fn the_stock_is_bounded_and_survives_reentrant_releases() {
        let many: Vec<_> = (0..SPARE_BOXES + 10).map(|_| probe(false)).collect();
        drop(many);
        assert_eq!(stocked(), SPARE_BOXES);
        // Releasing a state that makes and drops another one touches the stock from
        // inside a release: neither panics nor loses the outer box.
        drop(probe(true));
        assert_eq!(stocked(), SPARE_BOXES);
    }

    #[test]
    fn a_state_released_on_another_thread_stocks_that_thread() {
        let state = probe(false);
        let before = stocked();
        std::thread::spawn(move || {
            drop(state);
            assert_eq!(stocked(), 1);
        })
        .join()
        .unwrap();
        assert_eq!(stocked(), before);
    }
}
