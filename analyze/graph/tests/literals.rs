//! Property: every value hltpy prints reads back as the same value (the
//! literal reader and the repr agree), for ints of any size, floats
//! (inf, nan, -0.0 included), strings with escapes, bytes, and nested
//! containers.

use num_bigint::BigInt;
use proptest::prelude::*;

use hltpy_graph::eval::same;
use hltpy_graph::literal;
use hltpy_graph::{Int, Value};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::int),
        (any::<i64>(), any::<i64>()).prop_map(|(a, b)| Value::Int(Int::from_big(
            BigInt::from(a) * BigInt::from(b) * 1_000_003
        ))),
        any::<f64>().prop_map(Value::Float),
        prop_oneof![
            Just(f64::NAN),
            Just(-0.0),
            Just(f64::NEG_INFINITY),
            Just(1e16),
            Just(1e-5)
        ]
        .prop_map(Value::Float),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::None),
        ".{0,6}".prop_map(|s| Value::str(&s)),
        proptest::collection::vec(any::<u8>(), 0..6).prop_map(|b| Value::Bytes(b.into())),
        (any::<f64>(), any::<f64>()).prop_map(|(re, im)| Value::Complex(re, im)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(|v| Value::Tuple(v.into())),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::list),
            proptest::collection::vec(
                (any::<i32>().prop_map(|k| Value::int(k as i64)), inner),
                0..3
            )
            .prop_map(|pairs| {
                // Keys of a dict are unique.
                let mut unique: Vec<(Value, Value)> = Vec::new();
                for (k, v) in pairs {
                    if !unique.iter().any(|(u, _)| u.repr() == k.repr()) {
                        unique.push((k, v));
                    }
                }
                Value::dict(unique)
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn a_printed_value_reads_back_the_same(v in value()) {
        let text = v.repr();
        let back = literal::parse(&text);
        prop_assert!(back.is_some(), "{text} did not read back");
        let back = back.unwrap();
        // Complex parts print like floats without ".0"; -0 real parts lose
        // their sign in CPython's own repr too, so compare reprs for those.
        let agree = same(&v, &back, None) == Some(true) || back.repr() == text;
        prop_assert!(agree, "{text} read back as {}", back.repr());
    }
}
