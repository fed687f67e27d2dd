//! Where tiers live: any `object_store` (S3 and S3-compatible services, a local
//! folder, memory) under a key prefix, wrapped to count requests, add latency and
//! inject failures.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
#[cfg(feature = "fault-injection")]
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::path::Path as ObjPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};
use sila_store_core::Error;

/// Maps an object store error to ours.
pub fn backend(e: object_store::Error) -> Error {
    match e {
        object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. } => {
            Error::Conflict(e.to_string())
        }
        object_store::Error::NotFound { path, .. } => Error::NotFound(path),
        other => Error::Backend(other.to_string()),
    }
}

/// Request counts, shared by clones; with the `fault-injection` feature (tests and
/// benchmarks only) also added latency and an injected failure.
#[derive(Debug, Default)]
pub struct Instruments {
    /// Requests made (every call of the store: get, put, list page, delete, …).
    pub requests: AtomicU64,
    /// Added latency per request, in milliseconds.
    #[cfg(feature = "fault-injection")]
    pub delay_ms: AtomicU64,
    /// When non-zero: the request with this number (1-based) and every later one
    /// fails, as if the process had died there.
    #[cfg(feature = "fault-injection")]
    pub fail_from: AtomicU64,
}

impl Instruments {
    /// Requests so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    #[cfg(not(feature = "fault-injection"))]
    async fn enter(&self, _what: &str) -> object_store::Result<()> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    #[cfg(feature = "fault-injection")]
    async fn enter(&self, what: &str) -> object_store::Result<()> {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let fail = self.fail_from.load(Ordering::SeqCst);
        if fail != 0 && n >= fail {
            return Err(object_store::Error::Generic {
                store: "instrumented",
                source: format!("injected failure at request {n} ({what})").into(),
            });
        }
        let d = self.delay_ms.load(Ordering::SeqCst);
        if d > 0 {
            tokio::time::sleep(Duration::from_millis(d)).await;
        }
        Ok(())
    }
}

/// An object store that counts requests, can add latency and can fail on purpose.
#[derive(Debug)]
pub struct Instrumented {
    inner: Arc<dyn ObjectStore>,
    /// The counters and knobs.
    pub instruments: Arc<Instruments>,
}

impl Instrumented {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Instrumented {
            inner,
            instruments: Arc::new(Instruments::default()),
        }
    }
}

impl fmt::Display for Instrumented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instrumented({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Instrumented {
    async fn put_opts(
        &self,
        location: &ObjPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.instruments.enter("put").await?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &ObjPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.instruments.enter("multipart").await?;
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(CountedUpload {
            inner,
            instruments: Arc::clone(&self.instruments),
        }))
    }

    async fn get_opts(
        &self,
        location: &ObjPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.instruments.enter("get").await?;
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjPath>> {
        // Keys go on in batches of 1,000 (S3's `DeleteObjects` takes that many in one
        // request), each batch counted as one request.
        let inner = Arc::clone(&self.inner);
        let ins = Arc::clone(&self.instruments);
        locations
            .chunks(1000)
            .then(move |batch| {
                let inner = Arc::clone(&inner);
                let ins = Arc::clone(&ins);
                async move {
                    if let Err(e) = ins.enter("delete").await {
                        return futures::stream::iter(vec![Err(e)]);
                    }
                    let results: Vec<_> = inner
                        .delete_stream(futures::stream::iter(batch).boxed())
                        .collect()
                        .await;
                    futures::stream::iter(results)
                }
            })
            .flatten()
            .boxed()
    }

    fn list(
        &self,
        prefix: Option<&ObjPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let ins = Arc::clone(&self.instruments);
        let pages = Arc::clone(&self.instruments);
        // One request for the first page, one more for each further page of
        // LIST_PAGE keys (what S3's ListObjectsV2 returns per request).
        let inner = self.inner.list(prefix).enumerate().then(move |(i, item)| {
            let pages = Arc::clone(&pages);
            async move {
                if i > 0 && i % LIST_PAGE == 0 {
                    pages.enter("list").await?;
                }
                item
            }
        });
        futures::stream::once(async move { ins.enter("list").await })
            .flat_map(move |r| match r {
                Ok(()) => futures::stream::empty().boxed(),
                Err(e) => futures::stream::once(async { Err(e) }).boxed(),
            })
            .chain(inner)
            .boxed()
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjPath>,
    ) -> object_store::Result<ListResult> {
        self.instruments.enter("list").await?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &ObjPath,
        to: &ObjPath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.instruments.enter("copy").await?;
        self.inner.copy_opts(from, to, options).await
    }
}

/// Keys per page of a listing (S3's ListObjectsV2 returns up to 1,000 per request).
const LIST_PAGE: usize = 1000;

/// A multipart upload whose part uploads, completion and abort count as requests.
#[derive(Debug)]
struct CountedUpload {
    inner: Box<dyn MultipartUpload>,
    instruments: Arc<Instruments>,
}

#[async_trait]
impl MultipartUpload for CountedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let part = self.inner.put_part(data);
        let ins = Arc::clone(&self.instruments);
        Box::pin(async move {
            ins.enter("part").await?;
            part.await
        })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.instruments.enter("complete").await?;
        self.inner.complete().await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.instruments.enter("abort").await?;
        self.inner.abort().await
    }
}

/// S3 settings given explicitly (flags); each one overrides its `AWS_*` variable.
#[derive(Clone, Debug, Default)]
pub struct S3Options {
    /// Endpoint URL of an S3-compatible service (`AWS_ENDPOINT`).
    pub endpoint: Option<String>,
    /// Region (`AWS_REGION`).
    pub region: Option<String>,
    /// Access key id (`AWS_ACCESS_KEY_ID`).
    pub access_key_id: Option<String>,
    /// Secret access key (`AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: Option<String>,
    /// Allow plain HTTP (`AWS_ALLOW_HTTP`).
    pub allow_http: Option<bool>,
    /// Virtual-hosted-style requests instead of path style
    /// (`AWS_VIRTUAL_HOSTED_STYLE_REQUEST`).
    pub virtual_hosted_style: Option<bool>,
}

/// A configured store: the object store and the key prefix of this deployment.
#[derive(Clone, Debug)]
pub struct TierStore {
    /// The store, instrumented.
    pub store: Arc<Instrumented>,
    /// Key prefix (may be empty).
    pub prefix: String,
    /// Whether the store does conditional updates (`If-Match`) itself; a local folder
    /// does not, and is then guarded by a lock in this process.
    pub native_cas: bool,
    /// The core's tiers over the same objects.
    pub engine: Arc<super::Engine>,
}

impl TierStore {
    /// Opens `s3://bucket/prefix` (configured from `AWS_*` variables: endpoint,
    /// region, credentials, `AWS_ALLOW_HTTP`, `AWS_VIRTUAL_HOSTED_STYLE_REQUEST`),
    /// `file:///path/prefix` (the same layout in a local folder) or `memory://prefix`.
    pub fn open(url: &str) -> Result<Self, Error> {
        Self::open_with(url, &S3Options::default())
    }

    /// [`TierStore::open`] with S3 settings that override the `AWS_*` variables.
    pub fn open_with(url: &str, s3: &S3Options) -> Result<Self, Error> {
        let bad = |why: &str| Error::InvalidArgument(format!("store {url:?}: {why}"));
        let (store, prefix, native_cas): (Arc<dyn ObjectStore>, String, bool) =
            if let Some(rest) = url.strip_prefix("s3://") {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(bad("no bucket"));
                }
                // The S3 client's TLS runs on ring (Cargo.toml); a provider the host
                // installed first stays.
                let _ = rustls::crypto::ring::default_provider().install_default();
                let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
                if let Some(v) = &s3.endpoint {
                    b = b.with_endpoint(v);
                }
                if let Some(v) = &s3.region {
                    b = b.with_region(v);
                }
                if let Some(v) = &s3.access_key_id {
                    b = b.with_access_key_id(v);
                }
                if let Some(v) = &s3.secret_access_key {
                    b = b.with_secret_access_key(v);
                }
                if let Some(v) = s3.allow_http {
                    b = b.with_allow_http(v);
                }
                if let Some(v) = s3.virtual_hosted_style {
                    b = b.with_virtual_hosted_style_request(v);
                }
                let store = b.build().map_err(backend)?;
                (Arc::new(store), prefix.trim_matches('/').to_string(), true)
            } else if let Some(path) = url.strip_prefix("file://") {
                if !path.starts_with('/') {
                    return Err(bad("file:// needs an absolute path"));
                }
                std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
                let fs =
                    object_store::local::LocalFileSystem::new_with_prefix(path).map_err(backend)?;
                (Arc::new(fs), String::new(), false)
            } else if let Some(prefix) = url.strip_prefix("memory://") {
                (
                    Arc::new(object_store::memory::InMemory::new()),
                    prefix.trim_matches('/').to_string(),
                    true,
                )
            } else {
                return Err(bad(
                    "expected s3://bucket/prefix, file:///path or memory://",
                ));
            };
        let store = Arc::new(Instrumented::new(store));
        let objects = crate::object_store_store::ObjectWorkspaceStore::over(
            store.clone(),
            &prefix,
            "",
            native_cas,
        );
        Ok(TierStore {
            engine: Arc::new(super::Engine::new(objects, super::NativeHost)),
            store,
            prefix,
            native_cas,
        })
    }

    /// The key `prefix/rest`.
    pub fn key(&self, rest: &str) -> ObjPath {
        if self.prefix.is_empty() {
            ObjPath::from(rest)
        } else {
            ObjPath::from(format!("{}/{rest}", self.prefix))
        }
    }

    /// The instruments (request count, delay, failure injection).
    pub fn instruments(&self) -> &Instruments {
        &self.store.instruments
    }
}
