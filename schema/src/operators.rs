//! Python's operators as a trace names them. A node that applies an
//! operator is named by its dunder: `__add__`, the reflected `__radd__`
//! (the traced value was the right operand), the in-place `__iadd__`, a
//! comparison `__lt__`, a unary `__neg__`. This is the one vocabulary of
//! them: the capture's proxy slots are checked against it, and the passes
//! (eval, infer, expr, compile) match its enums exhaustively, so an
//! operator added here is one the compiler asks each of them about.

/// A binary arithmetic or bitwise operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    MatMul,
    TrueDiv,
    FloorDiv,
    Mod,
    /// `divmod(a, b)`: a builtin function over the operator protocol.
    DivMod,
    Pow,
    LShift,
    RShift,
    And,
    Or,
    Xor,
}

/// Which operand a binary operator's dunder was called on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Form {
    /// `a.__add__(b)` for `a + b`.
    Plain,
    /// `b.__radd__(a)` for `a + b`: the receiver is the right operand.
    Reflected,
    /// `a.__iadd__(b)` for `a += b`.
    InPlace,
}

/// A rich comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CmpOp {
    Lt,
    Le,
    Eq,
    Ne,
    Gt,
    Ge,
}

/// A unary operator (`abs` is the builtin over `__abs__`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnOp {
    Neg,
    Pos,
    Invert,
    Abs,
}

/// Any operator a node can be named by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    Binary(BinOp, Form),
    Compare(CmpOp),
    Unary(UnOp),
}

/// Python's precedence levels that printing an expression needs, loosest
/// first (the grammar's order: comparisons bind looser than `|`, which
/// binds looser than `^`, … up to an atom).
pub mod precedence {
    pub const CMP: u8 = 4;
    pub const BOR: u8 = 5;
    pub const BXOR: u8 = 6;
    pub const BAND: u8 = 7;
    pub const SHIFT: u8 = 8;
    pub const ADD: u8 = 9;
    pub const MUL: u8 = 10;
    pub const UNARY: u8 = 11;
    pub const POW: u8 = 12;
    pub const ATOM: u8 = 13;
}

impl BinOp {
    pub const ALL: [BinOp; 14] = [
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::MatMul,
        BinOp::TrueDiv,
        BinOp::FloorDiv,
        BinOp::Mod,
        BinOp::DivMod,
        BinOp::Pow,
        BinOp::LShift,
        BinOp::RShift,
        BinOp::And,
        BinOp::Or,
        BinOp::Xor,
    ];

    /// The operator whose plain dunder is `__STEM__`.
    fn from_stem(stem: &str) -> Option<BinOp> {
        Some(match stem {
            "add" => BinOp::Add,
            "sub" => BinOp::Sub,
            "mul" => BinOp::Mul,
            "matmul" => BinOp::MatMul,
            "truediv" => BinOp::TrueDiv,
            "floordiv" => BinOp::FloorDiv,
            "mod" => BinOp::Mod,
            "divmod" => BinOp::DivMod,
            "pow" => BinOp::Pow,
            "lshift" => BinOp::LShift,
            "rshift" => BinOp::RShift,
            "and" => BinOp::And,
            "or" => BinOp::Or,
            "xor" => BinOp::Xor,
            _ => return None,
        })
    }

    /// The dunder of each form: plain, reflected, in-place. (`__idivmod__`
    /// is not Python's, but a class may define it; it is read as divmod.)
    const fn dunders(self) -> [&'static str; 3] {
        match self {
            BinOp::Add => ["__add__", "__radd__", "__iadd__"],
            BinOp::Sub => ["__sub__", "__rsub__", "__isub__"],
            BinOp::Mul => ["__mul__", "__rmul__", "__imul__"],
            BinOp::MatMul => ["__matmul__", "__rmatmul__", "__imatmul__"],
            BinOp::TrueDiv => ["__truediv__", "__rtruediv__", "__itruediv__"],
            BinOp::FloorDiv => ["__floordiv__", "__rfloordiv__", "__ifloordiv__"],
            BinOp::Mod => ["__mod__", "__rmod__", "__imod__"],
            BinOp::DivMod => ["__divmod__", "__rdivmod__", "__idivmod__"],
            BinOp::Pow => ["__pow__", "__rpow__", "__ipow__"],
            BinOp::LShift => ["__lshift__", "__rlshift__", "__ilshift__"],
            BinOp::RShift => ["__rshift__", "__rrshift__", "__irshift__"],
            BinOp::And => ["__and__", "__rand__", "__iand__"],
            BinOp::Or => ["__or__", "__ror__", "__ior__"],
            BinOp::Xor => ["__xor__", "__rxor__", "__ixor__"],
        }
    }

    /// The dunder of this operator in `form`.
    pub const fn dunder(self, form: Form) -> &'static str {
        let [plain, reflected, in_place] = self.dunders();
        match form {
            Form::Plain => plain,
            Form::Reflected => reflected,
            Form::InPlace => in_place,
        }
    }

    /// The infix symbol (`+`); None for divmod, which is a function.
    pub const fn symbol(self) -> Option<&'static str> {
        Some(match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::MatMul => "@",
            BinOp::TrueDiv => "/",
            BinOp::FloorDiv => "//",
            BinOp::Mod => "%",
            BinOp::DivMod => return None,
            BinOp::Pow => "**",
            BinOp::LShift => "<<",
            BinOp::RShift => ">>",
            BinOp::And => "&",
            BinOp::Or => "|",
            BinOp::Xor => "^",
        })
    }

    /// How CPython's "unsupported operand type(s) for …" names it.
    pub const fn error_name(self) -> &'static str {
        match (self, self.symbol()) {
            (BinOp::Pow, _) => "** or pow()",
            (_, Some(symbol)) => symbol,
            (_, None) => "divmod()",
        }
    }

    /// The augmented assignment (`+=`); None for divmod.
    pub const fn augmented(self) -> Option<&'static str> {
        Some(match self {
            BinOp::Add => "+=",
            BinOp::Sub => "-=",
            BinOp::Mul => "*=",
            BinOp::MatMul => "@=",
            BinOp::TrueDiv => "/=",
            BinOp::FloorDiv => "//=",
            BinOp::Mod => "%=",
            BinOp::DivMod => return None,
            BinOp::Pow => "**=",
            BinOp::LShift => "<<=",
            BinOp::RShift => ">>=",
            BinOp::And => "&=",
            BinOp::Or => "|=",
            BinOp::Xor => "^=",
        })
    }

    /// Its precedence level ([`precedence`]); divmod is a call, an atom.
    pub const fn precedence(self) -> u8 {
        match self {
            BinOp::Add | BinOp::Sub => precedence::ADD,
            BinOp::Mul | BinOp::MatMul | BinOp::TrueDiv | BinOp::FloorDiv | BinOp::Mod => {
                precedence::MUL
            }
            BinOp::DivMod => precedence::ATOM,
            BinOp::Pow => precedence::POW,
            BinOp::LShift | BinOp::RShift => precedence::SHIFT,
            BinOp::And => precedence::BAND,
            BinOp::Or => precedence::BOR,
            BinOp::Xor => precedence::BXOR,
        }
    }
}

impl CmpOp {
    pub const ALL: [CmpOp; 6] = [
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Gt,
        CmpOp::Ge,
    ];

    pub const fn dunder(self) -> &'static str {
        match self {
            CmpOp::Lt => "__lt__",
            CmpOp::Le => "__le__",
            CmpOp::Eq => "__eq__",
            CmpOp::Ne => "__ne__",
            CmpOp::Gt => "__gt__",
            CmpOp::Ge => "__ge__",
        }
    }

    pub const fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

impl UnOp {
    pub const ALL: [UnOp; 4] = [UnOp::Neg, UnOp::Pos, UnOp::Invert, UnOp::Abs];

    pub const fn dunder(self) -> &'static str {
        match self {
            UnOp::Neg => "__neg__",
            UnOp::Pos => "__pos__",
            UnOp::Invert => "__invert__",
            UnOp::Abs => "__abs__",
        }
    }

    /// The prefix symbol (`-`); None for abs, which is a function.
    pub const fn symbol(self) -> Option<&'static str> {
        match self {
            UnOp::Neg => Some("-"),
            UnOp::Pos => Some("+"),
            UnOp::Invert => Some("~"),
            UnOp::Abs => None,
        }
    }

    /// How CPython's "bad operand type for unary …" names it.
    pub const fn error_name(self) -> &'static str {
        match self {
            UnOp::Neg => "unary -",
            UnOp::Pos => "unary +",
            UnOp::Invert => "unary ~",
            UnOp::Abs => "abs()",
        }
    }
}

impl Operator {
    /// The operator a dunder names; None for any other name. (On eval's
    /// path for every operator node: a match on the name's stem, no scan.)
    pub fn parse(dunder: &str) -> Option<Operator> {
        let stem = dunder.strip_prefix("__")?.strip_suffix("__")?;
        if let Some(op) = BinOp::from_stem(stem) {
            return Some(Operator::Binary(op, Form::Plain));
        }
        Some(match stem {
            "lt" => Operator::Compare(CmpOp::Lt),
            "le" => Operator::Compare(CmpOp::Le),
            "eq" => Operator::Compare(CmpOp::Eq),
            "ne" => Operator::Compare(CmpOp::Ne),
            "gt" => Operator::Compare(CmpOp::Gt),
            "ge" => Operator::Compare(CmpOp::Ge),
            "neg" => Operator::Unary(UnOp::Neg),
            "pos" => Operator::Unary(UnOp::Pos),
            "invert" => Operator::Unary(UnOp::Invert),
            "abs" => Operator::Unary(UnOp::Abs),
            _ => {
                let (form, rest) = match stem.split_at_checked(1)? {
                    ("r", rest) => (Form::Reflected, rest),
                    ("i", rest) => (Form::InPlace, rest),
                    _ => return None,
                };
                Operator::Binary(BinOp::from_stem(rest)?, form)
            }
        })
    }

    pub const fn dunder(self) -> &'static str {
        match self {
            Operator::Binary(op, form) => op.dunder(form),
            Operator::Compare(op) => op.dunder(),
            Operator::Unary(op) => op.dunder(),
        }
    }
}

/// Each prints as its (plain) dunder, as messages name it.
macro_rules! display_as_dunder {
    ($($op:ty => $dunder:expr;)*) => {$(
        impl std::fmt::Display for $op {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let dunder: fn($op) -> &'static str = $dunder;
                f.write_str(dunder(*self))
            }
        }
    )*};
}

display_as_dunder! {
    BinOp => |op| op.dunder(Form::Plain);
    CmpOp => CmpOp::dunder;
    UnOp => UnOp::dunder;
    Operator => Operator::dunder;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operator in every form.
    fn all() -> impl Iterator<Item = Operator> {
        let binary = BinOp::ALL.into_iter().flat_map(|op| {
            [Form::Plain, Form::Reflected, Form::InPlace].map(|form| Operator::Binary(op, form))
        });
        binary
            .chain(CmpOp::ALL.map(Operator::Compare))
            .chain(UnOp::ALL.map(Operator::Unary))
    }

    #[test]
    fn every_dunder_parses_back_to_its_operator() {
        let all: Vec<Operator> = all().collect();
        assert_eq!(all.len(), 14 * 3 + 6 + 4);
        for op in &all {
            assert_eq!(Operator::parse(op.dunder()), Some(*op), "{op:?}");
        }
        let mut names: Vec<&str> = all.iter().map(|op| op.dunder()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len(), "two operators share a dunder");
        for other in ["__len__", "__contains__", "__radd", "add", "__rlen__", ""] {
            assert_eq!(Operator::parse(other), None, "{other}");
        }
    }

    #[test]
    fn forms_are_read_from_the_prefix() {
        assert_eq!(
            Operator::parse("__rsub__"),
            Some(Operator::Binary(BinOp::Sub, Form::Reflected))
        );
        assert_eq!(
            Operator::parse("__imatmul__"),
            Some(Operator::Binary(BinOp::MatMul, Form::InPlace))
        );
        // `__rshift__` is the plain right shift, not a reflected `__shift__`.
        assert_eq!(
            Operator::parse("__rshift__"),
            Some(Operator::Binary(BinOp::RShift, Form::Plain))
        );
        assert_eq!(
            Operator::parse("__rrshift__"),
            Some(Operator::Binary(BinOp::RShift, Form::Reflected))
        );
        assert_eq!(
            Operator::parse("__ge__"),
            Some(Operator::Compare(CmpOp::Ge))
        );
    }

    #[test]
    fn symbols_follow_pythons_grammar() {
        // Looser to tighter, as the grammar lists them.
        let order = [
            BinOp::Or,
            BinOp::Xor,
            BinOp::And,
            BinOp::LShift,
            BinOp::Add,
            BinOp::Mul,
            BinOp::Pow,
        ];
        for pair in order.windows(2) {
            assert!(pair[0].precedence() < pair[1].precedence(), "{pair:?}");
        }
        assert!(precedence::CMP < BinOp::Or.precedence());
        for op in BinOp::ALL {
            match (op.symbol(), op.augmented()) {
                (Some(symbol), Some(augmented)) => assert_eq!(format!("{symbol}="), augmented),
                (None, None) => assert_eq!(op, BinOp::DivMod),
                other => panic!("{op:?}: {other:?}"),
            }
        }
    }
}
