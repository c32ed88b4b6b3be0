//! Protobuf wire primitives for the two passes: [`Sizer`] measures fields and records
//! the length of every nested message in pre-order, [`Writer`] writes the same fields
//! and takes those lengths back in the same order.
//!
//! Scalar fields follow proto3's implicit presence as prost does: a zero number or an
//! empty string or byte string is not written. Members of a `oneof` are always
//! written (`*_member`), and so is every message field: the messages this encoder
//! writes are all `Some` (or repeated elements) in opentelemetry-proto's structs.

use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};

/// A field number of the OTLP protobuf messages.
pub(super) type Tag = u32;

/// Length of a varint field holding `value`, or 0 when `value` is 0.
pub(super) fn varint_len(tag: Tag, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        varint_member_len(tag, value)
    }
}

/// Length of a varint field written even when `value` is 0.
pub(super) fn varint_member_len(tag: Tag, value: u64) -> usize {
    key_len(tag) + encoded_len_varint(value)
}

/// Length of a fixed32 field, or 0 when `value` is 0.
pub(super) fn fixed32_len(tag: Tag, value: u32) -> usize {
    if value == 0 { 0 } else { key_len(tag) + 4 }
}

/// Length of a fixed64 field, or 0 when `value` is 0.
pub(super) fn fixed64_len(tag: Tag, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        fixed64_member_len(tag)
    }
}

/// Length of a fixed64 field written whatever its value.
pub(super) fn fixed64_member_len(tag: Tag) -> usize {
    key_len(tag) + 8
}

/// Length of a length-delimited field of `len` bytes, or 0 when `len` is 0.
pub(super) fn bytes_len(tag: Tag, len: usize) -> usize {
    if len == 0 {
        0
    } else {
        bytes_member_len(tag, len)
    }
}

/// Length of a length-delimited field of `len` bytes written even when empty.
pub(super) fn bytes_member_len(tag: Tag, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

/// The size pass: measures messages and records each nested message's length.
pub(super) struct Sizer<'a> {
    lengths: &'a mut Vec<usize>,
}

impl<'a> Sizer<'a> {
    /// A sizer recording into `lengths`, which it empties first.
    pub(super) fn new(lengths: &'a mut Vec<usize>) -> Self {
        lengths.clear();
        Self { lengths }
    }

    /// Length of the message field `tag` whose content `content` measures; records the
    /// content's length before those of the messages nested in it (pre-order), which is
    /// the order [`Writer::message`] takes them back in.
    pub(super) fn message(&mut self, tag: Tag, content: impl FnOnce(&mut Self) -> usize) -> usize {
        let slot = self.lengths.len();
        self.lengths.push(0);
        let len = content(self);
        if let Some(recorded) = self.lengths.get_mut(slot) {
            *recorded = len;
        }
        bytes_member_len(tag, len)
    }
}

/// The write pass: writes fields into the output, nested messages prefixed with the
/// lengths the [`Sizer`] recorded.
pub(super) struct Writer<'a> {
    buf: &'a mut Vec<u8>,
    lengths: std::slice::Iter<'a, usize>,
}

impl<'a> Writer<'a> {
    /// A writer appending to `buf`, taking nested lengths from `lengths` in order.
    pub(super) fn new(buf: &'a mut Vec<u8>, lengths: &'a [usize]) -> Self {
        Self {
            buf,
            lengths: lengths.iter(),
        }
    }

    /// Whether every recorded length was used: the passes walked the same messages.
    pub(super) fn used_every_length(&self) -> bool {
        self.lengths.len() == 0
    }

    /// Writes the message field `tag` with the content `content` writes.
    pub(super) fn message(&mut self, tag: Tag, content: impl FnOnce(&mut Self)) {
        // The passes walk the same input in the same order, so a length is always there.
        let len = self.lengths.next().copied().unwrap_or_default();
        encode_key(tag, WireType::LengthDelimited, self.buf);
        encode_varint(len as u64, self.buf);
        content(self);
    }

    /// Writes a varint field unless `value` is 0.
    pub(super) fn varint(&mut self, tag: Tag, value: u64) {
        if value != 0 {
            self.varint_member(tag, value);
        }
    }

    /// Writes a varint field even when `value` is 0.
    pub(super) fn varint_member(&mut self, tag: Tag, value: u64) {
        encode_key(tag, WireType::Varint, self.buf);
        encode_varint(value, self.buf);
    }

    /// Writes a fixed32 field unless `value` is 0.
    pub(super) fn fixed32(&mut self, tag: Tag, value: u32) {
        if value != 0 {
            encode_key(tag, WireType::ThirtyTwoBit, self.buf);
            self.buf.extend_from_slice(&value.to_le_bytes());
        }
    }

    /// Writes a fixed64 field unless `value` is 0.
    pub(super) fn fixed64(&mut self, tag: Tag, value: u64) {
        if value != 0 {
            self.fixed64_member(tag, value);
        }
    }

    /// Writes a fixed64 field whatever its value.
    pub(super) fn fixed64_member(&mut self, tag: Tag, value: u64) {
        encode_key(tag, WireType::SixtyFourBit, self.buf);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    /// Writes a string or bytes field unless `bytes` is empty.
    pub(super) fn bytes(&mut self, tag: Tag, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.bytes_member(tag, bytes);
        }
    }

    /// Writes a string or bytes field even when `bytes` is empty.
    pub(super) fn bytes_member(&mut self, tag: Tag, bytes: &[u8]) {
        self.bytes_header(tag, bytes.len());
        self.buf.extend_from_slice(bytes);
    }

    /// Writes the key and length of a length-delimited field whose `len` bytes the
    /// caller then appends with [`raw`](Self::raw).
    pub(super) fn bytes_header(&mut self, tag: Tag, len: usize) {
        encode_key(tag, WireType::LengthDelimited, self.buf);
        encode_varint(len as u64, self.buf);
    }

    /// Appends bytes as they are (the content of a field opened by
    /// [`bytes_header`](Self::bytes_header)).
    pub(super) fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
}
