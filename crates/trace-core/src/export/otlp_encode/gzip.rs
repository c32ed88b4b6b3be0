//! Gzip (RFC 1952) into a reused buffer, with a reused deflate state: a `GzEncoder`
//! per request, as opentelemetry-otlp makes, allocates both every time.

use std::io;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// The gzip header: magic, deflate, no flags, no modification time, no extra flags,
/// operating system unknown (what flate2's `GzEncoder` writes at the default level).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// Compresses request bodies with gzip.
#[derive(Debug)]
pub(crate) struct GzipEncoder {
    deflate: Compress,
    buf: Vec<u8>,
}

/// At the default level (6), as opentelemetry-otlp compresses.
impl Default for GzipEncoder {
    fn default() -> Self {
        Self::new(Compression::default())
    }
}

impl GzipEncoder {
    /// An encoder compressing at `level`.
    pub(crate) fn new(level: Compression) -> Self {
        Self {
            deflate: Compress::new(level, false),
            buf: Vec::new(),
        }
    }

    /// `input` as one gzip member. The buffer it is written to is reused by the next
    /// call.
    pub(crate) fn compress(&mut self, input: &[u8]) -> io::Result<&[u8]> {
        self.deflate.reset();
        // Protobuf of spans usually shrinks to well under a third.
        super::reuse(&mut self.buf, HEADER.len() + input.len() / 3 + 64);
        self.buf.extend_from_slice(&HEADER);
        let mut rest = input;
        loop {
            if self.buf.len() == self.buf.capacity() {
                self.buf.reserve(self.buf.capacity());
            }
            let (read, written) = (self.deflate.total_in(), self.deflate.total_out());
            let status = self
                .deflate
                .compress_vec(rest, &mut self.buf, FlushCompress::Finish)?;
            let consumed = usize::try_from(self.deflate.total_in() - read).unwrap_or(usize::MAX);
            rest = rest.get(consumed..).unwrap_or_default();
            match status {
                Status::StreamEnd => break,
                Status::Ok | Status::BufError => {
                    let stalled = self.deflate.total_in() == read
                        && self.deflate.total_out() == written
                        && self.buf.len() < self.buf.capacity();
                    if stalled {
                        return Err(io::Error::other("deflate made no progress"));
                    }
                }
            }
        }
        let mut crc = Crc::new();
        crc.update(input);
        self.buf.extend_from_slice(&crc.sum().to_le_bytes());
        // ISIZE is the input's length modulo 2^32.
        self.buf
            .extend_from_slice(&(input.len() as u32).to_le_bytes());
        Ok(&self.buf)
    }
}
