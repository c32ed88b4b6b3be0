//! Attributes: `KeyValue`, `AnyValue` and `ArrayValue` of
//! `opentelemetry.proto.common.v1`, from opentelemetry's [`KeyValue`] and [`Value`]
//! mapped as opentelemetry-proto maps them.

use opentelemetry::{Array, Key, KeyValue, Value};

use super::wire::{
    LengthHint, Tag, Writer, bytes_len, bytes_member_len, fixed64_member_len, varint_member_len,
};

/// `KeyValue.key`.
const KEY: Tag = 1;
/// `KeyValue.value`.
const VALUE: Tag = 2;
/// `AnyValue.string_value` (a `oneof` member, as are the four below).
const STRING_VALUE: Tag = 1;
/// `AnyValue.bool_value`.
const BOOL_VALUE: Tag = 2;
/// `AnyValue.int_value`.
const INT_VALUE: Tag = 3;
/// `AnyValue.double_value`.
const DOUBLE_VALUE: Tag = 4;
/// `AnyValue.array_value`.
const ARRAY_VALUE: Tag = 5;
/// `ArrayValue.values`.
const ARRAY_VALUES: Tag = 1;

/// Writes the repeated `KeyValue` field `tag` holding `attributes`.
pub(super) fn write_attributes<'k>(
    w: &mut Writer<'_>,
    tag: Tag,
    attributes: impl IntoIterator<Item = &'k KeyValue>,
) {
    for kv in attributes {
        write_key_value(w, tag, &kv.key, &kv.value);
    }
}

/// Writes the `KeyValue` field `tag` holding `key` and `value`.
#[inline]
pub(super) fn write_key_value(w: &mut Writer<'_>, tag: Tag, key: &Key, value: &Value) {
    match scalar_len(value) {
        Some(value_len) => {
            w.message_of_len(tag, scalar_key_value_len(key, value_len), |w| {
                w.bytes(KEY, key.as_str().as_bytes());
                w.message_of_len(VALUE, value_len, |w| write_scalar(w, value));
            });
        }
        None => w.message(tag, LengthHint::Small, |w| {
            w.bytes(KEY, key.as_str().as_bytes());
            w.message(VALUE, LengthHint::Small, |w| write_array(w, value));
        }),
    }
}

/// Content length of a `KeyValue` whose `AnyValue` holds a scalar of `value_len` bytes.
fn scalar_key_value_len(key: &Key, value_len: usize) -> usize {
    bytes_len(KEY, key.as_str().len()) + bytes_member_len(VALUE, value_len)
}

/// Content length of the `AnyValue` holding `value` when it is a scalar (a string
/// included), written before its content: most attributes are scalars. `None` for an
/// array.
fn scalar_len(value: &Value) -> Option<usize> {
    match value {
        Value::Bool(b) => Some(varint_member_len(BOOL_VALUE, u64::from(*b))),
        Value::I64(i) => Some(varint_member_len(INT_VALUE, *i as u64)),
        Value::F64(_) => Some(fixed64_member_len(DOUBLE_VALUE)),
        Value::String(string) => Some(bytes_member_len(STRING_VALUE, string.as_str().len())),
        Value::Array(_) => None,
        // A kind of value a later opentelemetry adds (the enum is non-exhaustive): an
        // empty `AnyValue`, where opentelemetry-proto would panic.
        _ => Some(0),
    }
}

/// Writes the content of the `AnyValue` holding the scalar `value`.
#[inline]
fn write_scalar(w: &mut Writer<'_>, value: &Value) {
    match value {
        Value::Bool(b) => w.varint_member(BOOL_VALUE, u64::from(*b)),
        Value::I64(i) => w.varint_member(INT_VALUE, *i as u64),
        Value::F64(f) => w.fixed64_member(DOUBLE_VALUE, f.to_bits()),
        Value::String(string) => w.bytes_member(STRING_VALUE, string.as_str().as_bytes()),
        _ => {}
    }
}

/// Writes the content of the `AnyValue` holding the array `value`.
fn write_array(w: &mut Writer<'_>, value: &Value) {
    match value {
        Value::Array(Array::Bool(items)) => w.message(ARRAY_VALUE, LengthHint::Small, |w| {
            write_elements(
                w,
                items,
                |b| varint_member_len(BOOL_VALUE, u64::from(*b)),
                |w, b| w.varint_member(BOOL_VALUE, u64::from(*b)),
            )
        }),
        Value::Array(Array::I64(items)) => w.message(ARRAY_VALUE, LengthHint::Small, |w| {
            write_elements(
                w,
                items,
                |i| varint_member_len(INT_VALUE, *i as u64),
                |w, i| w.varint_member(INT_VALUE, *i as u64),
            )
        }),
        Value::Array(Array::F64(items)) => w.message(ARRAY_VALUE, LengthHint::Small, |w| {
            write_elements(
                w,
                items,
                |_| fixed64_member_len(DOUBLE_VALUE),
                |w, f| w.fixed64_member(DOUBLE_VALUE, f.to_bits()),
            )
        }),
        Value::Array(Array::String(items)) => w.message(ARRAY_VALUE, LengthHint::Small, |w| {
            write_elements(
                w,
                items,
                |string| bytes_member_len(STRING_VALUE, string.as_str().len()),
                |w, string| w.bytes_member(STRING_VALUE, string.as_str().as_bytes()),
            )
        }),
        _ => {}
    }
}

/// Writes the content of an `ArrayValue`: one `AnyValue` per item, of the content length
/// `item_len` gives, its content written by `write_item`.
fn write_elements<T>(
    w: &mut Writer<'_>,
    items: &[T],
    item_len: impl Fn(&T) -> usize,
    write_item: impl Fn(&mut Writer<'_>, &T),
) {
    for item in items {
        w.message_of_len(ARRAY_VALUES, item_len(item), |w| write_item(w, item));
    }
}
