//! A file JavaScript opened, as the core's [`RandomAccess`]: anything with the shape
//! of the browser's `FileSystemSyncAccessHandle` (an OPFS file in a worker):
//! `read(buffer, {at})`, `write(buffer, {at})`, `getSize()`, `truncate(size)` and
//! `flush()`, all synchronous. The npm package gives Node files (`NodeFile`) and
//! `Blob`s (`blobFile`, read-only, in workers) the same shape.

use std::io;

use js_sys::{Function, Object, Reflect, Uint8Array};
use sila_store_core::random_access::RandomAccess;
use wasm_bindgen::{JsCast, JsValue};

/// A JavaScript file handle.
pub struct JsFile {
    obj: JsValue,
    read: Function,
    write: Option<Function>,
    get_size: Function,
    truncate: Option<Function>,
    flush: Option<Function>,
}

fn method(obj: &JsValue, name: &str) -> Option<Function> {
    Reflect::get(obj, &name.into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
}

fn js_io(what: &str, e: JsValue) -> io::Error {
    let message = Reflect::get(&e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"));
    io::Error::other(format!("{what}: {message}"))
}

fn at(offset: u64) -> Object {
    let o = Object::new();
    // Setting a property on a fresh object cannot fail.
    let _ = Reflect::set(&o, &"at".into(), &(offset as f64).into());
    o
}

fn count(v: JsValue, what: &str) -> io::Result<usize> {
    v.as_f64()
        .filter(|n| *n >= 0.0 && n.fract() == 0.0)
        .map(|n| n as usize)
        .ok_or_else(|| io::Error::other(format!("{what} did not return a byte count")))
}

impl JsFile {
    /// The handle `obj`; it needs `read` and `getSize` (and `write`, `truncate`,
    /// `flush` to be written).
    pub fn new(obj: JsValue) -> sila_store_core::Result<JsFile> {
        let (Some(read), Some(get_size)) = (method(&obj, "read"), method(&obj, "getSize")) else {
            return Err(sila_store_core::Error::InvalidArgument(
                "a file is an object with read(buffer, {at}) and getSize() (a FileSystemSyncAccessHandle, a NodeFile, blobFile(blob))".into(),
            ));
        };
        Ok(JsFile {
            write: method(&obj, "write"),
            truncate: method(&obj, "truncate"),
            flush: method(&obj, "flush"),
            obj,
            read,
            get_size,
        })
    }

    fn writer(&self, f: &Option<Function>, what: &str) -> io::Result<Function> {
        f.clone().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("the file has no {what}(): it is read-only"),
            )
        })
    }
}

impl RandomAccess for JsFile {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            let chunk = Uint8Array::new_with_length((buf.len() - done) as u32);
            let n = self
                .read
                .call2(&self.obj, &chunk, &at(offset + done as u64))
                .map_err(|e| js_io("read", e))?;
            let n = count(n, "read")?.min(buf.len() - done);
            if n == 0 {
                break;
            }
            chunk
                .subarray(0, n as u32)
                .copy_to(&mut buf[done..done + n]);
            done += n;
        }
        Ok(done)
    }

    fn write_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        let write = self.writer(&self.write, "write")?;
        let mut done = 0;
        while done < buf.len() {
            let chunk = Uint8Array::from(&buf[done..]);
            let n = write
                .call2(&self.obj, &chunk, &at(offset + done as u64))
                .map_err(|e| js_io("write", e))?;
            let n = count(n, "write")?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            done += n;
        }
        Ok(())
    }

    fn size(&mut self) -> io::Result<u64> {
        let n = self
            .get_size
            .call0(&self.obj)
            .map_err(|e| js_io("getSize", e))?;
        Ok(count(n, "getSize")? as u64)
    }

    fn set_size(&mut self, len: u64) -> io::Result<()> {
        let truncate = self.writer(&self.truncate, "truncate")?;
        truncate
            .call1(&self.obj, &(len as f64).into())
            .map_err(|e| js_io("truncate", e))?;
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        if let Some(flush) = &self.flush {
            flush.call0(&self.obj).map_err(|e| js_io("flush", e))?;
        }
        Ok(())
    }
}
