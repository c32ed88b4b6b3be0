//! Protobuf wire primitives: [`Writer`] writes fields in one pass. A nested message's
//! length comes before its bytes: for small messages whose length is a glance away (a
//! scalar attribute, a status) it is computed first ([`Writer::message_of_len`]); for the
//! others it is written once their content is, into bytes set aside for it
//! ([`Writer::message`]).
//!
//! Scalar fields follow proto3's implicit presence as prost does: a zero number or an
//! empty string or byte string is not written. Members of a `oneof` are always
//! written (`*_member`), and so is every message field: the messages this encoder
//! writes are all `Some` (or repeated elements) in opentelemetry-proto's structs.

use std::time::{SystemTime, UNIX_EPOCH};

use prost::encoding::{WireType, encoded_len_varint, key_len};

/// `time` as nanoseconds since the Unix epoch: 0 before the epoch, and wrapped past 2554,
/// as opentelemetry-proto has it.
pub(super) fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}

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

/// How many bytes [`Writer::message`] sets aside for a nested message's length before
/// writing its content: the varint length most messages of a kind have. A message whose
/// length needs another number of bytes has its content moved once it is written.
#[derive(Debug, Clone, Copy)]
pub(super) enum LengthHint {
    /// Under 128 bytes: an attribute, an event, a link, a scope.
    Small = 1,
    /// 128 bytes to 16 KiB: a span, a resource.
    Medium = 2,
    /// 16 KiB to 2 MiB: a batch's `ResourceSpans` and `ScopeSpans`.
    Large = 3,
}

/// The writer: writes fields into the output in one pass; a nested message's length,
/// which comes before its bytes, is written once the content is (see
/// [`message`](Writer::message)).
pub(super) struct Writer<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    /// A writer appending to `buf`.
    pub(super) fn new(buf: &'a mut Vec<u8>) -> Self {
        Self { buf }
    }

    /// Writes the message field `tag` with the content `content` writes. Its length is
    /// written after the content, in the `hint` bytes set aside before it; when the
    /// length needs more or fewer bytes (a varint, minimal as prost writes it), the
    /// content moves to make room.
    pub(super) fn message(&mut self, tag: Tag, hint: LengthHint, content: impl FnOnce(&mut Self)) {
        self.key(tag, WireType::LengthDelimited);
        let at = self.buf.len();
        let reserved = hint as usize;
        self.buf.resize(at + reserved, 0);
        content(self);
        let len = self.buf.len() - at - reserved;
        let needed = encoded_len_varint(len as u64);
        if needed > reserved {
            let grow = needed - reserved;
            self.buf.resize(self.buf.len() + grow, 0);
            self.buf
                .copy_within(at + reserved..at + reserved + len, at + needed);
        } else if needed < reserved {
            self.buf.copy_within(at + reserved.., at + needed);
            self.buf.truncate(at + needed + len);
        }
        let mut value = len as u64;
        for byte in &mut self.buf[at..at + needed] {
            *byte = (value as u8 & 0x7f) | 0x80;
            value >>= 7;
        }
        self.buf[at + needed - 1] &= 0x7f;
    }

    /// Writes the message field `tag` with the content `content` writes, `len` bytes
    /// long: for small messages whose length both passes compute instead of recording.
    #[inline]
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
    #[inline]
    pub(super) fn varint(&mut self, tag: Tag, value: u64) {
        if value != 0 {
            self.varint_member(tag, value);
        }
    }

    /// Writes a varint field even when `value` is 0.
    #[inline]
    pub(super) fn varint_member(&mut self, tag: Tag, value: u64) {
        self.key(tag, WireType::Varint);
        self.varint_value(value);
    }

    /// Writes a fixed32 field unless `value` is 0.
    #[inline]
    pub(super) fn fixed32(&mut self, tag: Tag, value: u32) {
        if value != 0 {
            self.key(tag, WireType::ThirtyTwoBit);
            self.buf.extend_from_slice(&value.to_le_bytes());
        }
    }

    /// Writes a fixed64 field unless `value` is 0.
    #[inline]
    pub(super) fn fixed64(&mut self, tag: Tag, value: u64) {
        if value != 0 {
            self.fixed64_member(tag, value);
        }
    }

    /// Writes a fixed64 field whatever its value.
    #[inline]
    pub(super) fn fixed64_member(&mut self, tag: Tag, value: u64) {
        self.key(tag, WireType::SixtyFourBit);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    /// Writes a string or bytes field unless `bytes` is empty.
    #[inline]
    pub(super) fn bytes(&mut self, tag: Tag, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.bytes_member(tag, bytes);
        }
    }

    /// Writes a string or bytes field even when `bytes` is empty.
    #[inline]
    pub(super) fn bytes_member(&mut self, tag: Tag, bytes: &[u8]) {
        self.bytes_header(tag, bytes.len());
        self.buf.extend_from_slice(bytes);
    }

    /// Writes the key and length of a length-delimited field whose `len` bytes the
    /// caller then appends with [`raw`](Self::raw).
    #[inline]
    pub(super) fn bytes_header(&mut self, tag: Tag, len: usize) {
        self.key(tag, WireType::LengthDelimited);
        self.varint_value(len as u64);
    }

    /// Appends bytes as they are (the content of a field opened by
    /// [`bytes_header`](Self::bytes_header)).
    #[inline]
    pub(super) fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::{LengthHint, Writer};

    /// A message of one bytes field 1 holding `content`, nested as field 2, as prost
    /// encodes it.
    fn prost_nested(content: &[u8]) -> Vec<u8> {
        #[derive(Clone, PartialEq, prost::Message)]
        struct Inner {
            #[prost(bytes = "vec", tag = "1")]
            content: Vec<u8>,
        }
        #[derive(Clone, PartialEq, prost::Message)]
        struct Outer {
            #[prost(message, optional, tag = "2")]
            inner: Option<Inner>,
        }
        Outer {
            inner: Some(Inner {
                content: content.to_vec(),
            }),
        }
        .encode_to_vec()
    }

    #[test]
    fn a_length_that_needs_more_or_fewer_bytes_than_set_aside_moves_the_content() {
        for len in [0, 1, 125, 126, 127, 128, 16_380, 16_381, 16_400, 2_097_200] {
            let content: Vec<u8> = (0..len).map(|n| n as u8).collect();
            for hint in [LengthHint::Small, LengthHint::Medium, LengthHint::Large] {
                let mut buf = Vec::new();
                Writer::new(&mut buf).message(2, hint, |w| w.bytes(1, &content));
                assert_eq!(buf, prost_nested(&content), "{len} bytes, {hint:?}");
            }
        }
    }
}
