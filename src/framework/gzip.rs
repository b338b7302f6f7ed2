//! PLACEHOLDER until the real gzip module lands (stored blocks only).
pub(crate) fn compress(data: &[u8]) -> Vec<u8> {
    let _ = data;
    Vec::new()
}
pub(crate) fn decompress(data: &[u8]) -> Result<Vec<u8>, String> {
    let _ = data;
    Err("placeholder".into())
}
