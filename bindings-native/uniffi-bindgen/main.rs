//! `uniffi-bindgen generate target/debug/libsila_store_native.so --language python --out-dir …`
fn main() {
    uniffi::uniffi_bindgen_main()
}
