//! Password hashing with argon2id at the OWASP parameters (m = 19 MiB, t = 2, p = 1).
//!
//! Hashing is CPU- and memory-heavy, so it runs on its own threads, one per core, never
//! on the async executor; each thread owns a reusable 19 MiB block buffer.
//! Measured on this machine during design: without a cap, login throughput fell to 8/s
//! and RSS grew to 10 GB; with a cap but fresh buffers glibc kept 0.6–0.8 GB; reusing
//! the buffers keeps RSS flat (tens of MB). A thread drops its buffer once it has had no
//! hash for [`IDLE_RELEASE`], so an idle server does not hold 19 MiB per core; buffers
//! are mapped from the OS directly, because a general-purpose allocator keeps a freed
//! block this size resident (mimalloc purges only on later allocator activity, which an
//! idle server does not have; glibc raises its mmap threshold after the first free).
//! Buffers are whole 2 MiB pages and asked for as transparent huge pages: with 4 KiB
//! pages a login cost 4–6 % more CPU in most runs (docs/performance.md, session 17).
//!
//! The threads take their work from one queue, so a thread that finishes a hash starts
//! the next queued one at once. Behind a semaphore on the async side, each hash first
//! had to wake the caller's task to hand its permit on, and the next caller's task to
//! hand its work to a blocking thread: the cores sat idle for 4–9 % of a login run
//! (docs/performance.md, session 10).
//!
//! Unknown users are checked against a dummy hash so that timing does not reveal
//! whether a name exists.

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How long a hashing thread keeps its block buffer after its last hash.
pub const IDLE_RELEASE: Duration = Duration::from_secs(10);

/// Longest password accepted (characters are bytes here): long enough for every
/// passphrase, short enough that hashing cost stays bounded.
pub const MAX_PASSWORD_BYTES: usize = 4096;

/// A hashing failure (never contains the password).
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The password is empty or too long.
    #[error("password must be 1 to {MAX_PASSWORD_BYTES} bytes")]
    Length,
    /// The stored hash is not a valid argon2 PHC string.
    #[error("stored password hash is malformed")]
    Malformed,
    /// The hasher itself failed.
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// Work for a hashing thread, given that thread's block memory.
type Job = Box<dyn FnOnce(&mut Scratch) + Send>;

/// Bounded, buffer-reusing argon2id hasher shared by the whole process: `concurrency`
/// threads; dropping the hasher stops them once the queue is empty.
#[derive(Debug)]
pub struct PasswordHasher {
    jobs: Sender<Job>,
    params: Params,
    dummy_hash: String,
    buffers: Arc<AtomicUsize>,
}

impl PasswordHasher {
    /// A hasher running `concurrency` hashes at once (use the core count).
    pub fn new(concurrency: usize) -> Result<Arc<PasswordHasher>, PasswordError> {
        Self::with_idle_release(concurrency, IDLE_RELEASE)
    }

    /// [`PasswordHasher::new`] whose threads drop their buffers after `idle`.
    fn with_idle_release(
        concurrency: usize,
        idle: Duration,
    ) -> Result<Arc<PasswordHasher>, PasswordError> {
        let params = Params::new(
            Params::DEFAULT_M_COST,
            Params::DEFAULT_T_COST,
            Params::DEFAULT_P_COST,
            Some(32),
        )
        .map_err(|e| PasswordError::Internal(e.to_string()))?;
        let buffers = Arc::new(AtomicUsize::new(0));
        // Nobody is logging in yet: the dummy hash's buffer goes back at once.
        let dummy_hash = hash_into(
            &params,
            b"dummy password for unknown users",
            &mut Scratch::new(Arc::clone(&buffers)),
        )?;
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for n in 0..concurrency.max(1) {
            let (queue, buffers) = (queue.clone(), Arc::clone(&buffers));
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || work(&queue, idle, buffers))
                .map_err(|e| PasswordError::Internal(format!("cannot start a hasher: {e}")))?;
        }
        Ok(Arc::new(PasswordHasher {
            jobs,
            params,
            dummy_hash,
            buffers,
        }))
    }

    /// Block buffers currently held by the hashing threads.
    pub fn buffers(&self) -> usize {
        self.buffers.load(Ordering::Relaxed)
    }

    /// Run `f` on a hashing thread. A caller that went away while its job waited (the
    /// browser gave up) costs no hash.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Scratch) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        let job: Job = Box::new(move |scratch| {
            if !done.is_closed() {
                let _ = done.send(span.in_scope(|| f(scratch)));
            }
        });
        let stopped = || PasswordError::Internal("the password hasher stopped".into());
        self.jobs.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())
    }

    /// Hash a new password.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        check_length(password)?;
        let pw = password.as_bytes().to_vec();
        let params = self.params.clone();
        self.run(move |scratch| hash_into(&params, &pw, scratch))
            .await?
    }

    /// Verify a password against a stored hash; `None` (unknown user or no local
    /// password) spends the same time on a dummy hash and answers `false`.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<String>,
    ) -> Result<bool, PasswordError> {
        if check_length(password).is_err() {
            return Ok(false);
        }
        let pw = password.as_bytes().to_vec();
        let (stored, known) = match stored {
            Some(s) => (s, true),
            None => (self.dummy_hash.clone(), false),
        };
        let matches = self
            .run(move |scratch| verify_with(&pw, &stored, scratch))
            .await??;
        Ok(known && matches)
    }
}

/// A hashing thread: one job at a time, its buffer dropped after `idle` without one.
fn work(queue: &Receiver<Job>, idle: Duration, buffers: Arc<AtomicUsize>) {
    let mut scratch = Scratch::new(buffers);
    loop {
        match queue.recv_timeout(idle) {
            Ok(job) => {
                // A panic loses that one answer (its caller gets an error), not the thread.
                if std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut scratch))).is_err() {
                    tracing::error!("a password hash panicked");
                    scratch.release();
                }
            }
            Err(RecvTimeoutError::Timeout) => scratch.release(),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn hash_into(
    params: &Params,
    password: &[u8],
    scratch: &mut Scratch,
) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_buf)
        .map_err(|e| PasswordError::Internal(e.to_string()))?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password,
            salt_bytes,
            &mut out,
            scratch.blocks(params.block_count())?,
        )
        .map_err(|e| PasswordError::Internal(e.to_string()))?;
    let output = Output::new(&out).map_err(|e| PasswordError::Internal(e.to_string()))?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: params
            .try_into()
            .map_err(|e: argon2::password_hash::Error| PasswordError::Internal(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

fn verify_with(
    password: &[u8],
    stored: &str,
    scratch: &mut Scratch,
) -> Result<bool, PasswordError> {
    let phc = PasswordHash::new(stored).map_err(|_| PasswordError::Malformed)?;
    let params = Params::try_from(&phc).map_err(|_| PasswordError::Malformed)?;
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
        return Err(PasswordError::Malformed);
    };
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_buf)
        .map_err(|_| PasswordError::Malformed)?;
    let mut out = vec![0u8; expected.len()];
    let blocks = scratch.blocks(params.block_count())?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into_with_memory(password, salt_bytes, &mut out, blocks)
        .map_err(|e| PasswordError::Internal(e.to_string()))?;
    let computed = Output::new(&out).map_err(|_| PasswordError::Malformed)?;
    // `Output`'s equality is constant-time.
    Ok(computed == expected)
}

/// A hashing thread's block memory, kept between hashes and counted in `buffers`.
#[derive(Debug)]
struct Scratch {
    buffer: Option<BlockBuffer>,
    buffers: Arc<AtomicUsize>,
}

impl Scratch {
    fn new(buffers: Arc<AtomicUsize>) -> Scratch {
        Scratch {
            buffer: None,
            buffers,
        }
    }

    /// `n` blocks, from the kept buffer when it is large enough.
    fn blocks(&mut self, n: usize) -> Result<&mut [Block], PasswordError> {
        if self.buffer.as_ref().is_none_or(|b| b.len() < n) {
            self.release();
            self.buffer = Some(BlockBuffer::new(n)?);
            self.buffers.fetch_add(1, Ordering::Relaxed);
        }
        match self.buffer.as_mut() {
            Some(b) => Ok(b.blocks(n)),
            None => Err(PasswordError::Internal("no argon2 memory".into())),
        }
    }

    /// Give the buffer back to the OS.
    fn release(&mut self) {
        if self.buffer.take().is_some() {
            self.buffers.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.release();
    }
}

/// The huge page size of x86-64 and of arm64 with 4 KiB base pages.
const HUGE_PAGE: usize = 2 << 20;

/// Argon2 block memory mapped straight from the OS: returned to it the moment the
/// buffer is dropped, whatever the global allocator.
#[derive(Debug)]
struct BlockBuffer {
    map: memmap2::MmapMut,
}

impl BlockBuffer {
    fn new(blocks: usize) -> Result<BlockBuffer, PasswordError> {
        let bytes = blocks
            .checked_mul(std::mem::size_of::<Block>())
            .ok_or_else(|| PasswordError::Internal("argon2 memory size overflows".into()))?;
        // Whole 2 MiB pages, asked for as transparent huge pages: argon2id reads its
        // reference blocks at random across the 19 MiB, and with 4 KiB pages nearly each
        // read missed the TLB (a two-level page walk in a VM). A length of whole huge
        // pages is what lets the kernel align the mapping for them.
        let bytes = bytes.next_multiple_of(HUGE_PAGE);
        let map = memmap2::MmapMut::map_anon(bytes)
            .map_err(|e| PasswordError::Internal(format!("cannot map argon2 memory: {e}")))?;
        // A kernel without transparent huge pages refuses the advice; 4 KiB pages work.
        #[cfg(target_os = "linux")]
        let _ = map.advise(memmap2::Advice::HugePage);
        Ok(BlockBuffer { map })
    }

    fn len(&self) -> usize {
        self.map.len() / std::mem::size_of::<Block>()
    }

    /// The first `n` blocks (`n <= len`).
    fn blocks(&mut self, n: usize) -> &mut [Block] {
        assert!(
            n <= self.len(),
            "a buffer of {} blocks asked for {n}",
            self.len()
        );
        // SAFETY: the mapping is page-aligned (beyond `Block`'s 64-byte alignment), at
        // least `n` blocks long and exclusively borrowed through `self`; a `Block` is
        // 128 plain `u64`s, so any bytes (zeroes from the OS, or an earlier hash's
        // blocks, which argon2 overwrites before it reads) are a valid value.
        unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr().cast::<Block>(), n) }
    }
}

fn check_length(password: &str) -> Result<(), PasswordError> {
    if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
        Err(PasswordError::Length)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let h = PasswordHasher::new(2).unwrap();
        let stored = h.hash("correct horse").await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            h.verify("correct horse", Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(!h.verify("wrong horse", Some(stored)).await.unwrap());
        assert!(!h.verify("anything", None).await.unwrap());
        assert!(!h.verify("", None).await.unwrap());
    }

    #[tokio::test]
    async fn buffers_are_kept_while_busy_and_dropped_when_idle() {
        let h = PasswordHasher::with_idle_release(2, Duration::from_secs(1)).unwrap();
        assert_eq!(h.buffers(), 0, "none kept from start-up");
        assert!(!h.verify("pw", None).await.unwrap());
        assert_eq!(h.buffers(), 1, "kept right after a hash");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while h.buffers() > 0 {
            assert!(std::time::Instant::now() < deadline, "never released");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn concurrent_hashes_all_answer_on_as_many_buffers_as_threads() {
        let h = PasswordHasher::new(2).unwrap();
        let stored = h.hash("correct horse").await.unwrap();
        let checks = (0..6).map(|i| {
            let (h, stored) = (h.clone(), stored.clone());
            async move {
                let pw = if i % 2 == 0 {
                    "correct horse"
                } else {
                    "wrong horse"
                };
                (i, h.verify(pw, Some(stored)).await.unwrap())
            }
        });
        for (i, ok) in futures_util::future::join_all(checks).await {
            assert_eq!(ok, i % 2 == 0, "check {i}");
        }
        assert!(h.buffers() <= 2, "{} buffers for 2 threads", h.buffers());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn block_memory_is_whole_huge_pages_that_the_kernel_may_back_with_them() {
        let mut buffer = BlockBuffer::new(19 * 1024).unwrap();
        assert_eq!(
            buffer.map.len(),
            20 << 20,
            "19 MiB rounds up to 10 huge pages"
        );
        assert_eq!(buffer.blocks(19 * 1024).len(), 19 * 1024);
        let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled");
        if thp.is_ok_and(|mode| !mode.contains("[never]")) {
            // smaps says per mapping whether huge pages may back it (the advice taken).
            // The kernel may have merged the buffer with a neighbour of the same kind
            // (another test's), so look for the mapping that contains it.
            let at = buffer.map.as_ptr() as usize;
            let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
            let contains = |line: &str| {
                let range = line.split(' ').next().unwrap_or_default();
                let bounds = range.split_once('-').and_then(|(a, b)| {
                    Some((
                        usize::from_str_radix(a, 16).ok()?,
                        usize::from_str_radix(b, 16).ok()?,
                    ))
                });
                bounds.is_some_and(|(a, b)| a <= at && at < b)
            };
            let mut lines = smaps.lines().skip_while(|l| !contains(l));
            assert!(lines.next().is_some(), "the buffer's mapping is listed");
            let eligible = lines
                .find_map(|l| l.strip_prefix("THPeligible:"))
                .map(str::trim);
            assert_eq!(eligible, Some("1"));
        }
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_is_an_error_not_a_match() {
        let h = PasswordHasher::new(1).unwrap();
        assert!(matches!(
            h.verify("pw", Some("$argon2id$nonsense".into())).await,
            Err(PasswordError::Malformed)
        ));
        assert!(matches!(h.hash("").await, Err(PasswordError::Length)));
    }

    #[tokio::test]
    async fn a_standard_argon2_hash_verifies() {
        use argon2::PasswordHasher as _;
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let std_hash = Argon2::default()
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        let h = PasswordHasher::new(1).unwrap();
        assert!(h.verify("pw", Some(std_hash)).await.unwrap());
    }
}
