//! Protobuf wire primitives for the two passes: [`Sizer`] measures fields and records
//! the length of nested messages in pre-order, [`Writer`] writes the same fields and
//! takes those lengths back in the same order. Small messages whose length is a glance
//! away (a scalar attribute, a status) are measured again by the writer instead.
//! Timestamps, which are slow to turn into nanoseconds, are converted once too.
//!
//! Scalar fields follow proto3's implicit presence as prost does: a zero number or an
//! empty string or byte string is not written. Members of a `oneof` are always
//! written (`*_member`), and so is every message field: the messages this encoder
//! writes are all `Some` (or repeated elements) in opentelemetry-proto's structs.

use std::time::{SystemTime, UNIX_EPOCH};

use prost::encoding::{WireType, encoded_len_varint, key_len};

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

/// What the size pass hands the write pass, in the order both use it.
#[derive(Debug, Default)]
pub(super) struct Records {
    /// Nested messages' lengths, in pre-order.
    lengths: Vec<usize>,
    /// Timestamps as nanoseconds since the Unix epoch.
    times: Vec<u64>,
}

/// The size pass: measures messages and records nested messages' lengths.
pub(super) struct Sizer<'a> {
    records: &'a mut Records,
}

impl<'a> Sizer<'a> {
    /// A sizer recording into `records`, which it empties first.
    pub(super) fn new(records: &'a mut Records) -> Self {
        records.lengths.clear();
        records.times.clear();
        Self { records }
    }

    /// `time` as nanoseconds since the Unix epoch, recorded for
    /// [`Writer::unix_nanos`]; 0 before the epoch, and wrapped past 2554, as
    /// opentelemetry-proto has it.
    pub(super) fn unix_nanos(&mut self, time: SystemTime) -> u64 {
        let nanos = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64);
        self.records.times.push(nanos);
        nanos
    }

    /// Length of the message field `tag` whose content `content` measures; records the
    /// content's length before those of the messages nested in it (pre-order), which is
    /// the order [`Writer::message`] takes them back in.
    pub(super) fn message(&mut self, tag: Tag, content: impl FnOnce(&mut Self) -> usize) -> usize {
        let slot = self.records.lengths.len();
        self.records.lengths.push(0);
        let len = content(self);
        if let Some(recorded) = self.records.lengths.get_mut(slot) {
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
    times: std::slice::Iter<'a, u64>,
}

impl<'a> Writer<'a> {
    /// A writer appending to `buf`, taking what the size pass recorded in order.
    pub(super) fn new(buf: &'a mut Vec<u8>, records: &'a Records) -> Self {
        Self {
            buf,
            lengths: records.lengths.iter(),
            times: records.times.iter(),
        }
    }

    /// Whether everything recorded was used: the passes walked the same messages.
    pub(super) fn used_every_record(&self) -> bool {
        self.lengths.len() == 0 && self.times.len() == 0
    }

    /// The next timestamp the sizer converted (in [`Sizer::unix_nanos`]).
    pub(super) fn unix_nanos(&mut self) -> u64 {
        self.times.next().copied().unwrap_or_default()
    }

    /// Writes the message field `tag` with the content `content` writes, whose length
    /// the sizer recorded.
    pub(super) fn message(&mut self, tag: Tag, content: impl FnOnce(&mut Self)) {
        // The passes walk the same input in the same order, so a length is always there.
        let len = self.lengths.next().copied().unwrap_or_default();
        self.message_of_len(tag, len, content);
    }

    /// Writes the message field `tag` with the content `content` writes, `len` bytes
    /// long: for small messages whose length both passes compute instead of recording.
    pub(super) fn message_of_len(&mut self, tag: Tag, len: usize, content: impl FnOnce(&mut Self)) {
        self.key(tag, WireType::LengthDelimited);
        self.varint_value(len as u64);
        content(self);
    }

    // Inlined so that a constant key folds to one byte pushed.
    #[inline(always)]
    fn key(&mut self, tag: Tag, wire_type: WireType) {
        self.varint_value(u64::from(tag << 3 | wire_type as u32));
    }

    /// A varint, written here rather than with prost's `encode_varint`, which puts
    /// bytes one at a time through `BufMut` and took a fifth of the encoding time: keys
    /// and most lengths and numbers are one byte.
    #[inline(always)]
    fn varint_value(&mut self, value: u64) {
        if value < 0x80 {
            self.buf.push(value as u8);
        } else {
            self.long_varint(value);
        }
    }

    fn long_varint(&mut self, mut value: u64) {
        let mut bytes = [0_u8; 10];
        let mut len = 0;
        while value >= 0x80 {
            bytes[len] = (value as u8) | 0x80;
            value >>= 7;
            len += 1;
        }
        bytes[len] = value as u8;
        self.buf.extend_from_slice(&bytes[..=len]);
    }

    /// Writes a varint field unless `value` is 0.
    pub(super) fn varint(&mut self, tag: Tag, value: u64) {
        if value != 0 {
            self.varint_member(tag, value);
        }
    }

    /// Writes a varint field even when `value` is 0.
    pub(super) fn varint_member(&mut self, tag: Tag, value: u64) {
        self.key(tag, WireType::Varint);
        self.varint_value(value);
    }

    /// Writes a fixed32 field unless `value` is 0.
    pub(super) fn fixed32(&mut self, tag: Tag, value: u32) {
        if value != 0 {
            self.key(tag, WireType::ThirtyTwoBit);
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
        self.key(tag, WireType::SixtyFourBit);
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
        self.key(tag, WireType::LengthDelimited);
        self.varint_value(len as u64);
    }

    /// Appends bytes as they are (the content of a field opened by
    /// [`bytes_header`](Self::bytes_header)).
    pub(super) fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
}
