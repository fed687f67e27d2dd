//! SHA-256 for everything core hashes: `sha2`, or a host's own implementation where one
//! is installed ([`install_host`], `std` only) and the input is big enough for the call
//! to pay.
//!
//! Natively `sha2` uses the CPU's SHA extensions. Compiled to WebAssembly it is scalar
//! code, about 8× slower than Node's OpenSSL on the same machine (1.3 GB/s), and it was
//! a third of the time of a conversion in Node (BENCHMARKS.md). The npm package's Node
//! entry installs `node:crypto` here; browsers have no synchronous SHA-256 to offer.
//!
//! A hash goes to the host only once it has been fed [`HOST_MIN`] bytes (until then
//! they are kept): a hash in Node costs about 3 µs more than its bytes, as much as
//! hashing 600 bytes in wasm, so ops lines and small files stay in Rust.

#[cfg(feature = "std")]
use alloc::rc::Rc;
#[cfg(feature = "std")]
use core::cell::RefCell;

use sha2::Digest as _;

/// Bytes a hash must have been fed before an installed host takes it.
pub const HOST_MIN: usize = 4 * 1024;

/// A host's SHA-256: hashes it starts, feeds and finishes, named by a number it gives.
///
/// A method that fails returns `None`/`false`, and the host is uninstalled for the
/// thread. A hash the host could not start is taken in Rust; a one-shot
/// [`Sha256::digest`] is taken again in Rust. A streamed hash the host fails in the
/// middle (or that outlives its host: uninstalled, replaced, or on another thread)
/// finishes as 32 zero bytes: every streamed digest is compared with the source's or
/// a read-back's, so the operation ends with a typed error and nothing is written in
/// place.
#[cfg(feature = "std")]
pub trait HostSha256 {
    /// Starts a hash; its handle.
    fn start(&self) -> Option<u32>;
    /// Feeds `data` to hash `handle`.
    fn update(&self, handle: u32, data: &[u8]) -> bool;
    /// The digest of hash `handle`, which the host then forgets.
    fn finish(&self, handle: u32) -> Option<[u8; 32]>;
}

#[cfg(feature = "std")]
std::thread_local! {
    /// The thread's host, numbered: a hash names the host that started it, so a hash
    /// finished on another thread, or after the host changed, fails instead of asking
    /// a host that never saw it.
    static HOST: RefCell<Option<(u64, Rc<dyn HostSha256>)>> = const { RefCell::new(None) };
}

/// Numbers of installed hosts.
#[cfg(feature = "std")]
static INSTALLS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Installs `host` for the calling thread (wasm has one), after checking it against
/// `sha2` on inputs of 0 bytes, 3 bytes and 1 MiB plus one; `Err` with what differed if
/// it is wrong, and nothing installed.
#[cfg(feature = "std")]
pub fn install_host(host: Rc<dyn HostSha256>) -> Result<(), alloc::string::String> {
    let big: alloc::vec::Vec<u8> = (0..(1u32 << 20) + 1).map(|i| (i % 251) as u8).collect();
    for input in [&b""[..], b"abc", &big] {
        let want: [u8; 32] = sha2::Sha256::digest(input).into();
        let got = host.start().and_then(|h| {
            // In two parts, as a stream would feed it.
            let (a, b) = input.split_at(input.len() / 2);
            (host.update(h, a) && host.update(h, b))
                .then(|| host.finish(h))
                .flatten()
        });
        if got != Some(want) {
            return Err(alloc::format!(
                "the host's SHA-256 of {} bytes is not SHA-256",
                input.len()
            ));
        }
    }
    let id = INSTALLS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    HOST.with(|h| *h.borrow_mut() = Some((id, host)));
    Ok(())
}

/// Removes the host of the calling thread, if any: hashes then stay in Rust.
#[cfg(feature = "std")]
pub fn uninstall_host() {
    HOST.with(|h| *h.borrow_mut() = None);
}

/// The thread's host and its number.
#[cfg(feature = "std")]
fn host() -> Option<(u64, Rc<dyn HostSha256>)> {
    HOST.try_with(|h| h.borrow().clone()).ok().flatten()
}

/// Uninstalls the thread's host if it is host number `id` (which failed).
#[cfg(feature = "std")]
fn remove_numbered(id: u64) {
    let _ = HOST.try_with(|h| {
        let mut h = h.borrow_mut();
        if h.as_ref().is_some_and(|(n, _)| *n == id) {
            *h = None;
        }
    });
}

/// The thread's host if it is host number `id`.
#[cfg(feature = "std")]
fn host_numbered(id: u64) -> Option<Rc<dyn HostSha256>> {
    host().filter(|(n, _)| *n == id).map(|(_, h)| h)
}

enum State {
    /// Nothing fed yet.
    Fresh,
    /// Fewer than [`HOST_MIN`] bytes fed, kept for the host installed when they came.
    #[cfg(feature = "std")]
    Pending(alloc::vec::Vec<u8>),
    Rust(sha2::Sha256),
    /// Host number `.0`'s hash `.1`.
    #[cfg(feature = "std")]
    Host(u64, u32),
    /// A host call failed: the digest is 32 zero bytes.
    #[cfg(feature = "std")]
    Failed,
}

/// A SHA-256 being computed.
pub struct Sha256 {
    state: State,
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256 {
    /// A new hash.
    pub fn new() -> Self {
        Sha256 {
            state: State::Fresh,
        }
    }

    /// The SHA-256 of `bytes`.
    pub fn digest(bytes: &[u8]) -> [u8; 32] {
        let mut h = Self::new();
        h.update(bytes);
        match h.try_finalize() {
            Some(d) => d,
            // The host failed (and is gone): every byte is at hand, so hash them here.
            None => sha2::Sha256::digest(bytes).into(),
        }
    }

    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        if let State::Fresh = self.state {
            self.state = Self::first();
        }
        #[cfg(feature = "std")]
        if let State::Pending(kept) = &mut self.state {
            if kept.len() + data.len() < HOST_MIN {
                kept.extend_from_slice(data);
                return;
            }
            let kept = core::mem::take(kept);
            self.state = Self::to_host();
            self.update(&kept);
        }
        match &mut self.state {
            State::Fresh => {}
            #[cfg(feature = "std")]
            State::Pending(_) => {}
            State::Rust(h) => h.update(data),
            #[cfg(feature = "std")]
            State::Host(id, handle) => {
                let handle = *handle;
                let id = *id;
                let host = host_numbered(id);
                if !host.as_ref().is_some_and(|h| h.update(handle, data)) {
                    // Let the host forget the hash, if it is still there.
                    if let Some(h) = host {
                        let _ = h.finish(handle);
                    }
                    remove_numbered(id);
                    self.state = State::Failed;
                }
            }
            #[cfg(feature = "std")]
            State::Failed => {}
        }
    }

    /// Where a new hash starts: kept for the host if one is installed, else in Rust.
    fn first() -> State {
        #[cfg(feature = "std")]
        if host().is_some() {
            return State::Pending(alloc::vec::Vec::new());
        }
        State::Rust(sha2::Sha256::new())
    }

    /// A hash started by the thread's host, or in Rust if there is none or it fails.
    #[cfg(feature = "std")]
    fn to_host() -> State {
        if let Some((id, host)) = host() {
            match host.start() {
                Some(handle) => return State::Host(id, handle),
                None => remove_numbered(id),
            }
        }
        State::Rust(sha2::Sha256::new())
    }

    /// The digest; 32 zero bytes if the host failed (see [`HostSha256`]).
    pub fn finalize(self) -> [u8; 32] {
        self.try_finalize().unwrap_or([0; 32])
    }

    /// The digest, `None` if the host failed.
    fn try_finalize(mut self) -> Option<[u8; 32]> {
        match core::mem::replace(&mut self.state, State::Fresh) {
            State::Fresh => Some(sha2::Sha256::digest(b"").into()),
            #[cfg(feature = "std")]
            State::Pending(kept) => Some(sha2::Sha256::digest(&kept).into()),
            State::Rust(h) => Some(h.finalize().into()),
            #[cfg(feature = "std")]
            State::Host(id, handle) => {
                let d = host_numbered(id).and_then(|h| h.finish(handle));
                if d.is_none() {
                    remove_numbered(id);
                }
                d
            }
            #[cfg(feature = "std")]
            State::Failed => None,
        }
    }
}

#[cfg(feature = "std")]
impl Drop for Sha256 {
    /// A host hash dropped unfinished is finished, so the host forgets it.
    fn drop(&mut self) {
        if let State::Host(id, handle) = self.state {
            if let Some(h) = host_numbered(id) {
                let _ = h.finish(handle);
            }
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use std::collections::HashMap;

    /// A host that is `sha2` with numbered states, and can be made to fail.
    #[derive(Default)]
    struct Fake {
        next: RefCell<u32>,
        open: RefCell<HashMap<u32, sha2::Sha256>>,
        broken: RefCell<bool>,
        calls: RefCell<u32>,
    }

    impl HostSha256 for Fake {
        fn start(&self) -> Option<u32> {
            *self.calls.borrow_mut() += 1;
            let mut n = self.next.borrow_mut();
            *n += 1;
            self.open.borrow_mut().insert(*n, sha2::Sha256::new());
            Some(*n)
        }
        fn update(&self, handle: u32, data: &[u8]) -> bool {
            if *self.broken.borrow() {
                return false;
            }
            self.open
                .borrow_mut()
                .get_mut(&handle)
                .map(|h| h.update(data))
                .is_some()
        }
        fn finish(&self, handle: u32) -> Option<[u8; 32]> {
            self.open
                .borrow_mut()
                .remove(&handle)
                .map(|h| h.finalize().into())
        }
    }

    #[test]
    fn host_gets_big_inputs_only_and_forgets_every_hash() {
        let fake = Rc::new(Fake::default());
        install_host(fake.clone()).unwrap();
        let starts = *fake.calls.borrow();
        let big: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        assert_eq!(
            Sha256::digest(&big),
            <[u8; 32]>::from(sha2::Sha256::digest(&big))
        );
        assert_eq!(*fake.calls.borrow(), starts + 1);
        assert_eq!(
            Sha256::digest(b"small"),
            <[u8; 32]>::from(sha2::Sha256::digest(b"small"))
        );
        assert_eq!(*fake.calls.borrow(), starts + 1);
        let mut dropped = Sha256::new();
        dropped.update(&big);
        drop(dropped);
        assert!(fake.open.borrow().is_empty());
        uninstall_host();
    }

    #[test]
    fn small_updates_are_kept_until_the_host_pays() {
        let fake = Rc::new(Fake::default());
        install_host(fake.clone()).unwrap();
        let data: Vec<u8> = (0..3 * HOST_MIN as u32).map(|i| (i * 7) as u8).collect();
        for len in [0, 1, HOST_MIN - 1, HOST_MIN, HOST_MIN + 1, data.len()] {
            for chunk in [1, 100, 1000, HOST_MIN - 1, HOST_MIN + 7] {
                let starts = *fake.calls.borrow();
                let mut h = Sha256::new();
                for c in data[..len].chunks(chunk) {
                    h.update(c);
                }
                let want: [u8; 32] = sha2::Sha256::digest(&data[..len]).into();
                assert_eq!(h.finalize(), want, "{len} bytes in {chunk}-byte updates");
                assert_eq!(*fake.calls.borrow() - starts, u32::from(len >= HOST_MIN));
            }
        }
        assert!(fake.open.borrow().is_empty());
        uninstall_host();
    }

    #[test]
    fn a_failing_host_gives_zeros_and_is_removed() {
        let fake = Rc::new(Fake::default());
        install_host(fake.clone()).unwrap();
        *fake.broken.borrow_mut() = true;
        let big = alloc::vec![7u8; HOST_MIN];
        let want = <[u8; 32]>::from(sha2::Sha256::digest(&big));
        // A stream the host fails ends as zeros, which no comparison accepts, the
        // host forgets it, and the host is gone.
        let mut h = Sha256::new();
        h.update(&big);
        assert_eq!(h.finalize(), [0; 32]);
        assert!(fake.open.borrow().is_empty());
        assert!(host().is_none());
        // A one-shot digest is right even when the host fails it.
        *fake.broken.borrow_mut() = false;
        install_host(fake.clone()).unwrap();
        *fake.broken.borrow_mut() = true;
        assert_eq!(Sha256::digest(&big), want);
        assert!(host().is_none());
        assert_eq!(Sha256::digest(&big), want);
    }

    /// A host that is not SHA-256.
    struct Wrong;
    impl HostSha256 for Wrong {
        fn start(&self) -> Option<u32> {
            Some(0)
        }
        fn update(&self, _: u32, _: &[u8]) -> bool {
            true
        }
        fn finish(&self, _: u32) -> Option<[u8; 32]> {
            Some([1; 32])
        }
    }

    #[test]
    fn a_wrong_host_is_refused() {
        assert!(install_host(Rc::new(Wrong)).is_err());
        let big = alloc::vec![7u8; HOST_MIN];
        assert_eq!(
            Sha256::digest(&big),
            <[u8; 32]>::from(sha2::Sha256::digest(&big))
        );
    }
}
