//! SQL functions over a node's `inputs` list, registered in every session:
//! `input_of(inputs, 'role')` is the id of the node's first input with
//! that role, or NULL. The views use it instead of joining `edges` back to
//! `nodes`, which would cost a join over every input of the trace.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, GenericListArray, OffsetSizeTrait, StringArray, UInt64Builder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int8Type, UInt64Type};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// `input_of(inputs, role) -> UInt64`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct InputOf {
    signature: Signature,
}

impl InputOf {
    pub fn udf() -> ScalarUDF {
        ScalarUDF::from(InputOf {
            signature: Signature::any(2, Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for InputOf {
    fn name(&self) -> &str {
        "input_of"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match &args[0] {
            DataType::List(_) | DataType::LargeList(_) => Ok(DataType::UInt64),
            other => {
                plan_err!("input_of(inputs, 'role') takes the `inputs` column first, got a {other}")
            }
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let role = match &args.args[1] {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(role)))
            | ColumnarValue::Scalar(ScalarValue::Utf8View(Some(role)))
            | ColumnarValue::Scalar(ScalarValue::LargeUtf8(Some(role))) => role.clone(),
            _ => return exec_err!("input_of(inputs, 'role') takes the role as a string literal"),
        };
        let inputs = args.args[0].to_array(args.number_rows)?;
        let result = match inputs.data_type() {
            DataType::List(_) => first_with_role(inputs.as_list::<i32>(), &role)?,
            DataType::LargeList(_) => first_with_role(inputs.as_list::<i64>(), &role)?,
            other => return exec_err!("input_of: `inputs` is a {other}, not a list"),
        };
        Ok(ColumnarValue::Array(result))
    }
}

/// For every row, the `src` of its first input whose role is `role`.
fn first_with_role<O: OffsetSizeTrait>(
    inputs: &GenericListArray<O>,
    role: &str,
) -> Result<ArrayRef> {
    let entries = inputs.values().as_struct();
    let (Some(roles), Some(srcs)) = (
        entries.column_by_name("role"),
        entries.column_by_name("src"),
    ) else {
        return exec_err!("input_of: `inputs` items need the fields role and src");
    };
    let srcs = cast(srcs, &DataType::UInt64)?;
    let srcs = srcs.as_primitive::<UInt64Type>();
    let matches = role_mask(roles, role)?;
    let offsets = inputs.value_offsets();
    let mut out = UInt64Builder::with_capacity(inputs.len());
    for row in 0..inputs.len() {
        let (start, end) = (offsets[row].as_usize(), offsets[row + 1].as_usize());
        let found = if inputs.is_null(row) {
            None
        } else {
            (start..end).find(|&i| matches[i]).map(|i| srcs.value(i))
        };
        out.append_option(found);
    }
    Ok(Arc::new(out.finish()) as ArrayRef)
}

/// Which entries have role `role`. hltpy writes roles as a small
/// dictionary, so comparing its keys avoids materialising a string per input.
fn role_mask(roles: &ArrayRef, role: &str) -> Result<Vec<bool>> {
    if let DataType::Dictionary(key, _) = roles.data_type() {
        if **key == DataType::Int8 {
            let dictionary = roles.as_dictionary::<Int8Type>();
            let values = cast(dictionary.values(), &DataType::Utf8)?;
            let values: &StringArray = values.as_string::<i32>();
            let wanted: Vec<bool> = (0..values.len())
                .map(|i| values.is_valid(i) && values.value(i) == role)
                .collect();
            let keys = dictionary.keys();
            return Ok((0..keys.len())
                .map(|i| keys.is_valid(i) && wanted.get(keys.value(i) as usize) == Some(&true))
                .collect());
        }
    }
    let values = cast(roles, &DataType::Utf8)?;
    let values = values.as_string::<i32>();
    Ok((0..values.len())
        .map(|i| values.is_valid(i) && values.value(i) == role)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int8Array, ListArray, StructArray, UInt64Array};
    use datafusion::arrow::buffer::OffsetBuffer;
    use datafusion::arrow::datatypes::{Field, Fields};

    fn inputs(roles: Vec<i8>, srcs: Vec<u64>, offsets: Vec<i32>) -> ListArray {
        let dictionary = datafusion::arrow::array::DictionaryArray::<Int8Type>::try_new(
            Int8Array::from(roles),
            Arc::new(StringArray::from(vec!["callable", "arg", "return"])),
        )
        .unwrap();
        let fields = Fields::from(vec![
            Field::new("role", dictionary.data_type().clone(), false),
            Field::new("src", DataType::UInt64, false),
        ]);
        let entries = StructArray::new(
            fields.clone(),
            vec![Arc::new(dictionary), Arc::new(UInt64Array::from(srcs))],
            None,
        );
        ListArray::new(
            Arc::new(Field::new("item", DataType::Struct(fields), false)),
            OffsetBuffer::new(offsets.into()),
            Arc::new(entries),
            None,
        )
    }

    #[test]
    fn finds_the_first_input_of_a_role_per_row() {
        // Row 0: callable 7, arg 8, return 9. Row 1: no inputs. Row 2: arg 3, arg 4.
        let list = inputs(vec![0, 1, 2, 1, 1], vec![7, 8, 9, 3, 4], vec![0, 3, 3, 5]);
        let returned = first_with_role(&list, "return").unwrap();
        let returned = returned.as_primitive::<UInt64Type>();
        assert_eq!(
            returned.iter().collect::<Vec<_>>(),
            vec![Some(9), None, None]
        );
        let args = first_with_role(&list, "arg").unwrap();
        assert_eq!(
            args.as_primitive::<UInt64Type>().iter().collect::<Vec<_>>(),
            vec![Some(8), None, Some(3)]
        );
    }
}
