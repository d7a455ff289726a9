//! The binary's global allocator: mimalloc, asked for plain `mi_malloc` blocks wherever their
//! natural alignment already suffices.
//!
//! mimalloc rather than glibc's allocator: requests are allocated on the runtime thread and freed
//! on the store's writer thread, which glibc serialises behind an arena lock. The `mimalloc`
//! crate's allocator asks `mi_malloc_aligned` for every block; whenever the thread's current page
//! for that size has no free block, mimalloc 3 then over-allocates by the alignment and takes a
//! slower path (ten times a request on the serving thread at 32 connections, callgrind). A block
//! of `mi_malloc` is aligned to 16 bytes, or to its size below that, as a Rust layout of
//! alignment at most 16 and at most its size needs (the test for natural alignment that
//! mimalloc 2 makes, `mi_malloc_is_naturally_aligned`).

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The largest alignment every `mi_malloc` block of at least that size has (`MI_MAX_ALIGN_SIZE`).
const NATURAL_ALIGN: usize = 16;

/// mimalloc, called without its aligned entry points when they are not needed.
pub struct Mimalloc;

/// Whether a block of `size` bytes from `mi_malloc` is aligned to `align`.
fn naturally_aligned(align: usize, size: usize) -> bool {
    align <= NATURAL_ALIGN && align <= size
}

// SAFETY: every block comes from mimalloc with at least the layout's size and alignment (plain
// calls only where `naturally_aligned` holds), and `mi_free`/`mi_realloc*` take any block it gave.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if naturally_aligned(layout.align(), layout.size()) {
            mi::mi_malloc(layout.size()).cast()
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if naturally_aligned(layout.align(), layout.size()) {
            mi::mi_zalloc(layout.size()).cast()
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr.cast::<c_void>());
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if naturally_aligned(layout.align(), new_size) {
            mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
        } else {
            mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every size up to 4 KiB and a few larger, at every alignment up to 4 KiB: the block is
    /// aligned, writable to its end, and survives growing and shrinking.
    #[test]
    fn blocks_have_the_alignment_their_layout_asks_for() {
        let sizes = (1..=4096).chain([8000, 65_536, 1 << 20, 3 << 20]);
        for size in sizes {
            for align in (0..=12).map(|shift| 1usize << shift) {
                if size % align != 0 {
                    continue;
                }
                let layout = Layout::from_size_align(size, align).unwrap();
                unsafe {
                    let block = Mimalloc.alloc(layout);
                    assert!(!block.is_null());
                    assert_eq!(block as usize % align, 0, "size {size}, align {align}");
                    block.write_bytes(0xa5, size);
                    let grown = Mimalloc.realloc(block, layout, size * 2);
                    assert_eq!(
                        grown as usize % align,
                        0,
                        "grown: size {size}, align {align}"
                    );
                    assert_eq!(*grown.add(size - 1), 0xa5);
                    let shrunk = Mimalloc.realloc(
                        grown,
                        Layout::from_size_align(size * 2, align).unwrap(),
                        size,
                    );
                    assert_eq!(
                        shrunk as usize % align,
                        0,
                        "shrunk: size {size}, align {align}"
                    );
                    Mimalloc.dealloc(shrunk, layout);
                    let zeroed = Mimalloc.alloc_zeroed(layout);
                    assert_eq!(
                        zeroed as usize % align,
                        0,
                        "zeroed: size {size}, align {align}"
                    );
                    assert!(std::slice::from_raw_parts(zeroed, size)
                        .iter()
                        .all(|&b| b == 0));
                    Mimalloc.dealloc(zeroed, layout);
                }
            }
        }
    }
}
