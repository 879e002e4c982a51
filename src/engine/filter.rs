//! Row filters: a table's `filter`, a SQL WHERE condition, parsed once with sqlparser into a
//! small expression tree that is both rendered back into the snapshot query (so the source
//! selects the rows) and evaluated on binlog rows (so changes are selected alike).
//!
//! One tree serves both, so what the server and Ferry evaluate is the same expression. The
//! evaluator follows MySQL's rules: three-valued logic (NULL is neither true nor false; a row is
//! selected only when the condition is TRUE), exact arithmetic on integers and DECIMAL, double
//! arithmetic as soon as a FLOAT/DOUBLE or a string takes part, strings compared under the
//! column's collation (case-insensitive for `_ci` collations, trailing spaces ignored for PAD
//! SPACE collations), dates compared with date strings as dates.
//!
//! Known difference, documented in docs/filters.md: `_ci` collations also equate some accented
//! letters (`'é' = 'e'` under `utf8mb4_general_ci`); Ferry folds case only, so keep filters on
//! accented text to `_bin` collations or exact forms.
//!
//! Anything else — subqueries, user variables, non-deterministic functions (`NOW()`, `RAND()`),
//! unknown functions — is refused when the task is validated, with the line and column of the
//! offending part.
//!
//! Why this file is long: parsing, rendering and evaluating share one private tree (`Node`) and
//! MySQL's evaluation rules, and a fifth of it is the unit tests that hold them together;
//! splitting it along parse / render / eval is on issue 13's list.

use std::{cell::Cell, cmp::Ordering, fmt::Write as _, str::FromStr};

use bigdecimal::{BigDecimal, RoundingMode, ToPrimitive, Zero};
use sqlparser::{
    ast::{self, BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, InTarget, Spanned, UnaryOperator},
    dialect::MySqlDialect,
    parser::Parser,
    tokenizer::Token,
};

use super::{
    event::{DateTime, Value},
    mysql_conn::{quote_ident, sql_literal},
};

/// A parsed filter, bound to the columns of one table schema.
#[derive(Clone, Debug)]
pub struct Filter {
    text: String,
    root: Node,
}

impl PartialEq for Filter {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text && self.root.sql() == other.root.sql()
    }
}

impl Eq for Filter {}

/// A column reference: its source name and, once bound, its index in the row with the
/// collation rules of the column.
#[derive(Clone, Debug)]
struct ColRef {
    name: String,
    index: Option<usize>,
    ci: bool,
    pad: bool,
}

#[derive(Clone, Debug)]
enum Lit {
    Null,
    Int(i128),
    Dec(BigDecimal),
    Float(f64),
    Str(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    NullSafeEq,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    IntDiv,
    Mod,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Func {
    Lower,
    Upper,
    Length,
    CharLength,
    Concat,
    Substring,
    Left,
    Right,
    Trim,
    Ltrim,
    Rtrim,
    Coalesce,
    Ifnull,
    Abs,
    Year,
    Month,
    Day,
    Date,
}

#[derive(Clone, Debug)]
enum Node {
    Col(ColRef),
    Lit(Lit),
    Not(Box<Node>),
    Neg(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Xor(Box<Node>, Box<Node>),
    Cmp(Cmp, Box<Node>, Box<Node>),
    Arith(Arith, Box<Node>, Box<Node>),
    IsNull(Box<Node>, bool),
    In(Box<Node>, Vec<Node>, bool),
    Between(Box<Node>, Box<Node>, Box<Node>, bool),
    Like(Box<Node>, Box<Node>, char, bool),
    Call(Func, Vec<Node>),
}

impl Filter {
    /// Parses `text`, refusing what Ferry cannot evaluate exactly like the source. The error
    /// names the line and column of the offending part.
    pub fn parse(text: &str) -> Result<Filter, String> {
        if text.len() > MAX_FILTER_BYTES {
            return Err(format!(
                "the filter is {} bytes; at most {MAX_FILTER_BYTES} are accepted. Write long lists as `col IN (…)`, \
                 or filter on a column that groups the rows",
                text.len()
            ));
        }
        let dialect = MySqlDialect {};
        let mut parser = Parser::new(&dialect)
            .try_with_sql(text)
            .map_err(|e| format!("cannot parse the filter: {e}"))?;
        let expr = parser.parse_expr().map_err(|e| format!("cannot parse the filter: {e}"))?;
        let next = parser.peek_token();
        if next.token != Token::EOF {
            return Err(format!(
                "unexpected `{}` at line {} column {}: the filter must be one condition",
                next.token, next.span.start.line, next.span.start.column
            ));
        }
        Ok(Filter {
            text: text.to_string(),
            root: compile(&expr, 0)?,
        })
    }

    /// The filter as written in the spec.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Source column names the filter reads.
    pub fn columns(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.root.clone().visit_cols_mut(&mut |c| {
            if !out.contains(&c.name) {
                out.push(c.name.clone())
            }
        });
        out
    }

    /// The same filter reading rows laid out as `columns`. A column missing from `columns` reads
    /// as NULL (a row logged before the column existed).
    pub fn bind(&self, columns: &[Binding]) -> Filter {
        let mut root = self.root.clone();
        root.visit_cols_mut(&mut |c| {
            c.index = columns.iter().position(|col| col.name == c.name);
            if let Some(col) = c.index.map(|i| &columns[i]) {
                (c.ci, c.pad) = (col.case_insensitive, col.pad_space);
            }
        });
        Filter {
            text: self.text.clone(),
            root,
        }
    }

    /// The condition as SQL for the source, identifiers quoted and literals escaped.
    pub fn sql(&self) -> String {
        self.root.sql()
    }

    /// Whether `row` is selected: the condition is TRUE (not FALSE, not NULL). Gives up when
    /// `interrupted` says so: evaluation (a LIKE on a long value may take seconds) asks it
    /// every [`INTERRUPT_STEPS`] steps, so it never holds up a worker that was told to stop.
    pub fn evaluate(&self, row: &[Value], interrupted: &dyn Fn() -> bool) -> Result<bool, Interrupted> {
        let cx = Cx {
            row,
            interrupted,
            stopped: Cell::new(false),
        };
        let selected = truth(&self.root.eval(&cx)) == Some(true);
        if cx.stopped.get() { Err(Interrupted) } else { Ok(selected) }
    }
}

/// How a filter reads one column of the rows it is given (`schema::Column::binding`): its
/// name, and how its collation compares text.
#[derive(Clone, Copy, Debug)]
pub struct Binding<'a> {
    pub name: &'a str,
    /// `'a' = 'A'` (a `_ci` collation of a text column).
    pub case_insensitive: bool,
    /// Trailing spaces ignored in comparisons (a PAD SPACE collation).
    pub pad_space: bool,
}

/// Evaluation was given up (the worker is stopping): the row's selection is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted;

/// How many steps of pattern matching pass between two questions to `interrupted`.
pub const INTERRUPT_STEPS: usize = 1 << 16;

/// What evaluation sees: the row, and whether to give up.
struct Cx<'a> {
    row: &'a [Value],
    interrupted: &'a dyn Fn() -> bool,
    /// Set once `interrupted` said yes; every result after it is meaningless.
    stopped: Cell<bool>,
}

/// Longest filter text accepted (also the CRD's `maxLength`): a bound on the parse tree, whose
/// evaluation (and drop) recurse over it.
pub const MAX_FILTER_BYTES: usize = 4096;
/// Deepest nesting of a filter's expression tree (a chain of `AND`s is as deep as it is long).
pub const MAX_FILTER_DEPTH: usize = 256;

fn compile(expr: &Expr, depth: usize) -> Result<Node, String> {
    if depth > MAX_FILTER_DEPTH {
        return Err(format!(
            "the filter nests deeper than {MAX_FILTER_DEPTH} levels (a chain of that many AND, OR or operators counts as \
             that deep); write long lists as `col IN (…)`"
        ));
    }
    let compile = |e: &Expr| compile(e, depth + 1);
    let refuse = |what: &str| {
        let at = expr.span().start;
        format!(
            "{what} at line {} column {} (`{}`) is not supported in a filter; see docs/filters.md for what is",
            at.line,
            at.column,
            expr.to_string().chars().take(60).collect::<String>()
        )
    };
    let b = |e: &Expr| compile(e).map(Box::new);
    Ok(match expr {
        Expr::Identifier(ident) => Node::Col(col(&ident.value)),
        Expr::CompoundIdentifier(parts) => match parts.last() {
            Some(last) => Node::Col(col(&last.value)),
            None => return Err(refuse("an empty name")),
        },
        Expr::Nested(inner) => compile(inner)?,
        Expr::Value(v) => Node::Lit(literal(&v.value).ok_or_else(|| refuse("this literal"))?),
        Expr::TypedString(ts) => match &ts.value.value {
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => Node::Lit(Lit::Str(s.clone())),
            _ => return Err(refuse("this typed literal")),
        },
        Expr::UnaryOp { op, expr: inner } => match op {
            UnaryOperator::Not => Node::Not(b(inner)?),
            UnaryOperator::Minus => Node::Neg(b(inner)?),
            UnaryOperator::Plus => compile(inner)?,
            _ => return Err(refuse(&format!("operator {op}"))),
        },
        Expr::BinaryOp { left, op, right } => {
            let (l, r) = (b(left)?, b(right)?);
            match op {
                BinaryOperator::And => Node::And(l, r),
                BinaryOperator::Or => Node::Or(l, r),
                BinaryOperator::Xor => Node::Xor(l, r),
                BinaryOperator::Eq => Node::Cmp(Cmp::Eq, l, r),
                BinaryOperator::NotEq => Node::Cmp(Cmp::NotEq, l, r),
                BinaryOperator::Lt => Node::Cmp(Cmp::Lt, l, r),
                BinaryOperator::LtEq => Node::Cmp(Cmp::LtEq, l, r),
                BinaryOperator::Gt => Node::Cmp(Cmp::Gt, l, r),
                BinaryOperator::GtEq => Node::Cmp(Cmp::GtEq, l, r),
                BinaryOperator::Spaceship => Node::Cmp(Cmp::NullSafeEq, l, r),
                BinaryOperator::Plus => Node::Arith(Arith::Add, l, r),
                BinaryOperator::Minus => Node::Arith(Arith::Sub, l, r),
                BinaryOperator::Multiply => Node::Arith(Arith::Mul, l, r),
                BinaryOperator::Divide => Node::Arith(Arith::Div, l, r),
                BinaryOperator::MyIntegerDivide => Node::Arith(Arith::IntDiv, l, r),
                BinaryOperator::Modulo => Node::Arith(Arith::Mod, l, r),
                _ => return Err(refuse(&format!("operator {op}"))),
            }
        }
        Expr::IsNull(inner) => Node::IsNull(b(inner)?, false),
        Expr::IsNotNull(inner) => Node::IsNull(b(inner)?, true),
        Expr::In {
            expr: inner,
            target: InTarget::List(list),
            negated,
            ..
        } => Node::In(b(inner)?, list.iter().map(compile).collect::<Result<_, _>>()?, *negated),
        Expr::Between {
            expr: inner,
            negated,
            low,
            high,
        } => Node::Between(b(inner)?, b(low)?, b(high)?, *negated),
        Expr::Like {
            negated,
            any: false,
            expr: inner,
            pattern,
            escape_char,
        } => {
            let escape = match escape_char.as_deref() {
                None => '\\',
                Some(Expr::Value(v)) => match &v.value {
                    ast::Value::SingleQuotedString(s) if s.chars().count() == 1 => s.chars().next().unwrap_or('\\'),
                    _ => return Err(refuse("an ESCAPE that is not one character")),
                },
                Some(_) => return Err(refuse("an ESCAPE that is not one character")),
            };
            Node::Like(b(inner)?, b(pattern)?, escape, *negated)
        }
        Expr::Substring {
            expr: inner,
            substring_from,
            substring_for,
            ..
        } => {
            let mut args = vec![compile(inner)?];
            args.push(match substring_from {
                Some(from) => compile(from)?,
                None => Node::Lit(Lit::Int(1)),
            });
            if let Some(len) = substring_for {
                args.push(compile(len)?);
            }
            Node::Call(Func::Substring, args)
        }
        Expr::Trim {
            trim_where: None,
            trim_what: None,
            expr: inner,
            trim_characters: None,
        } => Node::Call(Func::Trim, vec![compile(inner)?]),
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_uppercase();
            let args: Vec<&Expr> = match &f.args {
                FunctionArguments::List(list) if list.duplicate_treatment.is_none() && list.clauses.is_empty() => list
                    .args
                    .iter()
                    .map(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
                        _ => Err(refuse("this function argument")),
                    })
                    .collect::<Result<_, _>>()?,
                FunctionArguments::None => Vec::new(),
                _ => return Err(refuse("this function call")),
            };
            let func = match name.as_str() {
                "LOWER" | "LCASE" => (Func::Lower, 1..=1),
                "UPPER" | "UCASE" => (Func::Upper, 1..=1),
                "LENGTH" | "OCTET_LENGTH" => (Func::Length, 1..=1),
                "CHAR_LENGTH" | "CHARACTER_LENGTH" => (Func::CharLength, 1..=1),
                "CONCAT" => (Func::Concat, 1..=64),
                "SUBSTRING" | "SUBSTR" => (Func::Substring, 2..=3),
                "LEFT" => (Func::Left, 2..=2),
                "RIGHT" => (Func::Right, 2..=2),
                "TRIM" => (Func::Trim, 1..=1),
                "LTRIM" => (Func::Ltrim, 1..=1),
                "RTRIM" => (Func::Rtrim, 1..=1),
                "COALESCE" => (Func::Coalesce, 1..=64),
                "IFNULL" => (Func::Ifnull, 2..=2),
                "ABS" => (Func::Abs, 1..=1),
                "YEAR" => (Func::Year, 1..=1),
                "MONTH" => (Func::Month, 1..=1),
                "DAY" | "DAYOFMONTH" => (Func::Day, 1..=1),
                "DATE" => (Func::Date, 1..=1),
                "NOW" | "CURRENT_TIMESTAMP" | "CURDATE" | "CURRENT_DATE" | "CURTIME" | "CURRENT_TIME" | "SYSDATE" | "UTC_TIMESTAMP"
                | "UTC_DATE" | "LOCALTIME" | "LOCALTIMESTAMP" | "UNIX_TIMESTAMP" | "RAND" | "UUID" | "UUID_SHORT" | "CONNECTION_ID"
                | "USER" | "CURRENT_USER" => {
                    return Err(refuse(&format!(
                        "{name}(), whose value depends on when it is evaluated (the full and the incremental sync would disagree),"
                    )));
                }
                _ => return Err(refuse(&format!("function {name}"))),
            };
            if !func.1.contains(&args.len()) {
                return Err(refuse(&format!("{name} with {} arguments", args.len())));
            }
            Node::Call(func.0, args.into_iter().map(compile).collect::<Result<_, _>>()?)
        }
        Expr::Subquery(_) | Expr::Exists { .. } | Expr::In { .. } => return Err(refuse("a subquery")),
        _ => return Err(refuse("this expression")),
    })
}

fn col(name: &str) -> ColRef {
    ColRef {
        name: name.to_string(),
        index: None,
        ci: true,
        pad: true,
    }
}

fn literal(value: &ast::Value) -> Option<Lit> {
    Some(match value {
        ast::Value::Null => Lit::Null,
        ast::Value::Boolean(b) => Lit::Int(i128::from(*b)),
        ast::Value::Number(n, _) => number_literal(n)?,
        ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => Lit::Str(s.clone()),
        _ => return None,
    })
}

fn number_literal(n: &str) -> Option<Lit> {
    if n.contains(['e', 'E']) {
        return n.parse().ok().map(Lit::Float);
    }
    if !n.contains('.')
        && let Ok(i) = n.parse::<i128>()
    {
        return Some(Lit::Int(i));
    }
    BigDecimal::from_str(n).ok().map(Lit::Dec)
}

impl Node {
    fn visit_cols_mut(&mut self, f: &mut impl FnMut(&mut ColRef)) {
        match self {
            Node::Col(c) => f(c),
            Node::Lit(_) => {}
            Node::Not(a) | Node::Neg(a) | Node::IsNull(a, _) => a.visit_cols_mut(f),
            Node::And(a, b) | Node::Or(a, b) | Node::Xor(a, b) | Node::Cmp(_, a, b) | Node::Arith(_, a, b) | Node::Like(a, b, _, _) => {
                a.visit_cols_mut(f);
                b.visit_cols_mut(f);
            }
            Node::Between(a, b, c, _) => {
                a.visit_cols_mut(f);
                b.visit_cols_mut(f);
                c.visit_cols_mut(f);
            }
            Node::In(a, list, _) => {
                a.visit_cols_mut(f);
                list.iter_mut().for_each(|n| n.visit_cols_mut(f));
            }
            Node::Call(_, args) => args.iter_mut().for_each(|n| n.visit_cols_mut(f)),
        }
    }

    /// SQL text, fully parenthesised.
    fn sql(&self) -> String {
        let mut out = String::new();
        self.write_sql(&mut out);
        out
    }

    fn write_sql(&self, out: &mut String) {
        let two = |out: &mut String, a: &Node, op: &str, b: &Node| {
            out.push('(');
            a.write_sql(out);
            let _ = write!(out, " {op} ");
            b.write_sql(out);
            out.push(')');
        };
        match self {
            Node::Col(c) => out.push_str(&quote_ident(&c.name)),
            Node::Lit(l) => match l {
                Lit::Null => out.push_str("NULL"),
                Lit::Int(i) => {
                    let _ = write!(out, "{i}");
                }
                Lit::Dec(d) => {
                    let _ = write!(out, "{}", d.to_plain_string());
                }
                Lit::Float(f) => {
                    let _ = write!(out, "{f:e}");
                }
                Lit::Str(s) => out.push_str(&sql_literal(&Value::Text(s.clone()))),
            },
            Node::Not(a) => {
                out.push_str("(NOT ");
                a.write_sql(out);
                out.push(')');
            }
            Node::Neg(a) => {
                out.push_str("(- ");
                a.write_sql(out);
                out.push(')');
            }
            Node::And(a, b) => two(out, a, "AND", b),
            Node::Or(a, b) => two(out, a, "OR", b),
            Node::Xor(a, b) => two(out, a, "XOR", b),
            Node::Cmp(op, a, b) => {
                let op = match op {
                    Cmp::Eq => "=",
                    Cmp::NotEq => "<>",
                    Cmp::Lt => "<",
                    Cmp::LtEq => "<=",
                    Cmp::Gt => ">",
                    Cmp::GtEq => ">=",
                    Cmp::NullSafeEq => "<=>",
                };
                two(out, a, op, b)
            }
            Node::Arith(op, a, b) => {
                let op = match op {
                    Arith::Add => "+",
                    Arith::Sub => "-",
                    Arith::Mul => "*",
                    Arith::Div => "/",
                    Arith::IntDiv => "DIV",
                    Arith::Mod => "%",
                };
                two(out, a, op, b)
            }
            Node::IsNull(a, negated) => {
                out.push('(');
                a.write_sql(out);
                out.push_str(if *negated { " IS NOT NULL)" } else { " IS NULL)" });
            }
            Node::In(a, list, negated) => {
                out.push('(');
                a.write_sql(out);
                out.push_str(if *negated { " NOT IN (" } else { " IN (" });
                for (i, n) in list.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    n.write_sql(out);
                }
                out.push_str("))");
            }
            Node::Between(a, low, high, negated) => {
                out.push('(');
                a.write_sql(out);
                out.push_str(if *negated { " NOT BETWEEN " } else { " BETWEEN " });
                low.write_sql(out);
                out.push_str(" AND ");
                high.write_sql(out);
                out.push(')');
            }
            Node::Like(a, pattern, escape, negated) => {
                out.push('(');
                a.write_sql(out);
                out.push_str(if *negated { " NOT LIKE " } else { " LIKE " });
                pattern.write_sql(out);
                out.push_str(" ESCAPE ");
                out.push_str(&sql_literal(&Value::Text(escape.to_string())));
                out.push(')');
            }
            Node::Call(func, args) => {
                let name = match func {
                    Func::Lower => "LOWER",
                    Func::Upper => "UPPER",
                    Func::Length => "LENGTH",
                    Func::CharLength => "CHAR_LENGTH",
                    Func::Concat => "CONCAT",
                    Func::Substring => "SUBSTRING",
                    Func::Left => "LEFT",
                    Func::Right => "RIGHT",
                    Func::Trim => "TRIM",
                    Func::Ltrim => "LTRIM",
                    Func::Rtrim => "RTRIM",
                    Func::Coalesce => "COALESCE",
                    Func::Ifnull => "IFNULL",
                    Func::Abs => "ABS",
                    Func::Year => "YEAR",
                    Func::Month => "MONTH",
                    Func::Day => "DAYOFMONTH",
                    Func::Date => "DATE",
                };
                out.push_str(name);
                out.push('(');
                for (i, n) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    n.write_sql(out);
                }
                out.push(')');
            }
        }
    }

    fn eval(&self, cx: &Cx) -> S {
        if cx.stopped.get() {
            return S::Null;
        }
        match self {
            Node::Col(c) => match c.index.and_then(|i| cx.row.get(i)) {
                Some(v) => from_value(v, c.ci, c.pad),
                None => S::Null,
            },
            Node::Lit(l) => match l {
                Lit::Null => S::Null,
                Lit::Int(i) => S::Int(*i),
                Lit::Dec(d) => S::Dec(d.clone()),
                Lit::Float(f) => S::Float(*f),
                Lit::Str(s) => S::Str(s.clone(), true, true),
            },
            Node::Not(a) => from_truth(truth(&a.eval(cx)).map(|t| !t)),
            Node::Neg(a) => match a.eval(cx) {
                S::Null => S::Null,
                S::Int(i) => S::Int(-i),
                S::Dec(d) => S::Dec(-d),
                other => S::Float(-to_f64(&other)),
            },
            Node::And(a, b) => {
                let l = truth(&a.eval(cx));
                if l == Some(false) {
                    return S::Int(0);
                }
                match (l, truth(&b.eval(cx))) {
                    (_, Some(false)) => S::Int(0),
                    (Some(true), Some(true)) => S::Int(1),
                    _ => S::Null,
                }
            }
            Node::Or(a, b) => {
                let l = truth(&a.eval(cx));
                if l == Some(true) {
                    return S::Int(1);
                }
                match (l, truth(&b.eval(cx))) {
                    (_, Some(true)) => S::Int(1),
                    (Some(false), Some(false)) => S::Int(0),
                    _ => S::Null,
                }
            }
            Node::Xor(a, b) => match (truth(&a.eval(cx)), truth(&b.eval(cx))) {
                (Some(x), Some(y)) => S::Int(i128::from(x != y)),
                _ => S::Null,
            },
            Node::Cmp(op, a, b) => {
                let (l, r) = (a.eval(cx), b.eval(cx));
                if *op == Cmp::NullSafeEq {
                    return S::Int(i128::from(match (&l, &r) {
                        (S::Null, S::Null) => true,
                        (S::Null, _) | (_, S::Null) => false,
                        _ => compare(&l, &r) == Some(Ordering::Equal),
                    }));
                }
                from_truth(compare(&l, &r).map(|o| match op {
                    Cmp::Eq | Cmp::NullSafeEq => o == Ordering::Equal,
                    Cmp::NotEq => o != Ordering::Equal,
                    Cmp::Lt => o == Ordering::Less,
                    Cmp::LtEq => o != Ordering::Greater,
                    Cmp::Gt => o == Ordering::Greater,
                    Cmp::GtEq => o != Ordering::Less,
                }))
            }
            Node::Arith(op, a, b) => arith(*op, a.eval(cx), b.eval(cx)),
            Node::IsNull(a, negated) => S::Int(i128::from(matches!(a.eval(cx), S::Null) != *negated)),
            Node::In(a, list, negated) => {
                let l = a.eval(cx);
                if matches!(l, S::Null) {
                    return S::Null;
                }
                let mut saw_null = false;
                for n in list {
                    match compare(&l, &n.eval(cx)) {
                        Some(Ordering::Equal) => return S::Int(i128::from(!negated)),
                        None => saw_null = true,
                        _ => {}
                    }
                }
                if saw_null { S::Null } else { S::Int(i128::from(*negated)) }
            }
            Node::Between(a, low, high, negated) => {
                let v = a.eval(cx);
                let ge = compare(&v, &low.eval(cx)).map(|o| o != Ordering::Less);
                let le = compare(&v, &high.eval(cx)).map(|o| o != Ordering::Greater);
                let within = match (ge, le) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                };
                from_truth(within.map(|w| w != *negated))
            }
            Node::Like(a, pattern, escape, negated) => {
                let (v, p) = (a.eval(cx), pattern.eval(cx));
                let (Some((v, ci_v)), Some((p, ci_p))) = (to_text(&v), to_text(&p)) else {
                    return S::Null;
                };
                let ci = ci_v && ci_p;
                let fold = |s: String| if ci { s.to_lowercase() } else { s };
                let v: Vec<char> = fold(v).chars().collect();
                let p: Vec<char> = fold(p).chars().collect();
                match like_counted(&v, &p, *escape, cx.interrupted) {
                    Some((matched, _)) => S::Int(i128::from(matched != *negated)),
                    None => {
                        cx.stopped.set(true);
                        S::Null
                    }
                }
            }
            Node::Call(func, args) => call(*func, args.iter().map(|a| a.eval(cx)).collect()),
        }
    }
}

/// A value during evaluation.
#[derive(Clone, Debug)]
enum S {
    Null,
    Int(i128),
    Dec(BigDecimal),
    Float(f64),
    /// Text, case-insensitive?, trailing spaces ignored?
    Str(String, bool, bool),
    Bytes(Vec<u8>),
    /// Date and time; `true` for a DATE.
    Dt(DateTime, bool),
    /// TIME in microseconds.
    Time(i64),
}

fn from_value(v: &Value, ci: bool, pad: bool) -> S {
    match v {
        Value::Null => S::Null,
        Value::Int(i) => S::Int(i128::from(*i)),
        Value::UInt(u) => S::Int(i128::from(*u)),
        Value::Float(f) => S::Float(f64::from(*f)),
        Value::Double(d) => S::Float(*d),
        Value::Decimal(d) => BigDecimal::from_str(d).map(S::Dec).unwrap_or(S::Null),
        Value::Text(s) | Value::Enum(_, s) | Value::Set(_, s) => S::Str(s.clone(), ci, pad),
        Value::Json(s) => S::Str(s.clone(), false, false),
        Value::Bytes(b) => S::Bytes(b.clone()),
        Value::Date(d) => S::Dt(*d, true),
        Value::DateTime(d) | Value::Timestamp(d) => S::Dt(*d, false),
        Value::Time {
            negative,
            hours,
            minutes,
            seconds,
            micros,
        } => {
            let t = ((i64::from(*hours) * 60 + i64::from(*minutes)) * 60 + i64::from(*seconds)) * 1_000_000 + i64::from(*micros);
            S::Time(if *negative { -t } else { t })
        }
        Value::Year(y) => S::Int(i128::from(*y)),
    }
}

fn truth(s: &S) -> Option<bool> {
    match s {
        S::Null => None,
        S::Int(i) => Some(*i != 0),
        S::Dec(d) => Some(!d.is_zero()),
        other => Some(to_f64(other) != 0.0),
    }
}

fn from_truth(t: Option<bool>) -> S {
    t.map_or(S::Null, |t| S::Int(i128::from(t)))
}

/// MySQL's string-to-number conversion: the longest numeric prefix, 0 when there is none.
fn str_to_f64(s: &str) -> f64 {
    let s = s.trim_start();
    let mut end = 0;
    let bytes = s.as_bytes();
    let mut seen_digit = false;
    let mut seen_dot = false;
    let mut seen_e = false;
    while end < bytes.len() {
        let c = bytes[end];
        match c {
            b'0'..=b'9' => seen_digit = true,
            b'+' | b'-' if end == 0 || matches!(bytes[end - 1], b'e' | b'E') => {}
            b'.' if !seen_dot && !seen_e => seen_dot = true,
            b'e' | b'E' if seen_digit && !seen_e => seen_e = true,
            _ => break,
        }
        end += 1;
    }
    let mut text = &s[..end];
    while !text.is_empty() && text.parse::<f64>().is_err() {
        text = &text[..text.len() - 1];
    }
    text.parse().unwrap_or(0.0)
}

fn dt_number(d: &DateTime, date_only: bool) -> f64 {
    let date = f64::from(d.year) * 10_000.0 + f64::from(d.month) * 100.0 + f64::from(d.day);
    if date_only {
        date
    } else {
        date * 1_000_000.0 + f64::from(d.hour) * 10_000.0 + f64::from(d.minute) * 100.0 + f64::from(d.second) + f64::from(d.micros) / 1e6
    }
}

fn to_f64(s: &S) -> f64 {
    match s {
        S::Null => 0.0,
        S::Int(i) => *i as f64,
        S::Dec(d) => d.to_f64().unwrap_or(0.0),
        S::Float(f) => *f,
        S::Str(s, _, _) => str_to_f64(s),
        S::Bytes(b) => str_to_f64(&String::from_utf8_lossy(b)),
        S::Dt(d, date_only) => dt_number(d, *date_only),
        S::Time(t) => {
            let (neg, t) = (*t < 0, t.unsigned_abs());
            let secs = t / 1_000_000;
            let v = ((secs / 3600) * 10_000 + (secs / 60 % 60) * 100 + secs % 60) as f64 + (t % 1_000_000) as f64 / 1e6;
            if neg { -v } else { v }
        }
    }
}

/// Exact decimal of an integer or decimal value.
fn to_dec(s: &S) -> Option<BigDecimal> {
    match s {
        S::Int(i) => BigDecimal::from_str(&i.to_string()).ok(),
        S::Dec(d) => Some(d.clone()),
        _ => None,
    }
}

fn parse_datetime(s: &str) -> Option<DateTime> {
    let s = s.trim();
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut d = date.split('-');
    let (y, m, day) = (d.next()?.parse().ok()?, d.next()?.parse().ok()?, d.next()?.parse().ok()?);
    if d.next().is_some() || m > 12 || day > 31 {
        return None;
    }
    let mut out = DateTime::new(y, m, day, 0, 0, 0, 0);
    if let Some(t) = time {
        let (hms, frac) = t.split_once('.').unwrap_or((t, ""));
        let mut p = hms.split(':');
        out.hour = p.next()?.parse().ok()?;
        out.minute = p.next().map_or(Some(0), |x| x.parse().ok())?;
        out.second = p.next().map_or(Some(0), |x| x.parse().ok())?;
        if !frac.is_empty() {
            let digits: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
            out.micros = digits.parse().ok()?;
        }
    }
    Some(out)
}

fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut p = hms.split(':');
    let h: i64 = p.next()?.parse().ok()?;
    let m: i64 = p.next().map_or(Some(0), |x| x.parse().ok())?;
    let sec: i64 = p.next().map_or(Some(0), |x| x.parse().ok())?;
    let micros: i64 = if frac.is_empty() {
        0
    } else {
        frac.chars()
            .chain(std::iter::repeat('0'))
            .take(6)
            .collect::<String>()
            .parse()
            .ok()?
    };
    let t = ((h * 60 + m) * 60 + sec) * 1_000_000 + micros;
    Some(if neg { -t } else { t })
}

fn compare(a: &S, b: &S) -> Option<Ordering> {
    match (a, b) {
        (S::Null, _) | (_, S::Null) => None,
        (S::Str(x, ci_x, pad_x), S::Str(y, ci_y, pad_y)) => {
            let pad = *pad_x && *pad_y;
            let (x, y) = if pad {
                (x.trim_end_matches(' '), y.trim_end_matches(' '))
            } else {
                (x.as_str(), y.as_str())
            };
            Some(if *ci_x && *ci_y {
                x.to_lowercase().cmp(&y.to_lowercase())
            } else {
                x.cmp(y)
            })
        }
        (S::Bytes(x), S::Bytes(y)) => Some(x.cmp(y)),
        (S::Bytes(x), S::Str(y, _, _)) => Some(x.as_slice().cmp(y.as_bytes())),
        (S::Str(x, _, _), S::Bytes(y)) => Some(x.as_bytes().cmp(y.as_slice())),
        (S::Dt(x, _), S::Dt(y, _)) => Some(x.cmp(y)),
        (S::Dt(x, _), S::Str(y, _, _)) => parse_datetime(y).map(|y| x.cmp(&y)),
        (S::Str(x, _, _), S::Dt(y, _)) => parse_datetime(x).map(|x| x.cmp(y)),
        (S::Time(x), S::Time(y)) => Some(x.cmp(y)),
        (S::Time(x), S::Str(y, _, _)) => parse_time(y).map(|y| x.cmp(&y)),
        (S::Str(x, _, _), S::Time(y)) => parse_time(x).map(|x| x.cmp(y)),
        (S::Int(x), S::Int(y)) => Some(x.cmp(y)),
        _ => match (to_dec(a), to_dec(b)) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => to_f64(a).partial_cmp(&to_f64(b)),
        },
    }
}

fn arith(op: Arith, a: S, b: S) -> S {
    if matches!(a, S::Null) || matches!(b, S::Null) {
        return S::Null;
    }
    if let (S::Int(x), S::Int(y)) = (&a, &b) {
        let r = match op {
            Arith::Add => x.checked_add(*y),
            Arith::Sub => x.checked_sub(*y),
            Arith::Mul => x.checked_mul(*y),
            Arith::IntDiv => x.checked_div(*y),
            Arith::Mod => x.checked_rem(*y),
            Arith::Div => None,
        };
        if op != Arith::Div {
            return r.map_or(S::Null, S::Int);
        }
    }
    if let (Some(x), Some(y)) = (to_dec(&a), to_dec(&b)) {
        return match op {
            Arith::Add => S::Dec(x + y),
            Arith::Sub => S::Dec(x - y),
            Arith::Mul => S::Dec(x * y),
            _ if y.is_zero() => S::Null,
            // MySQL: the dividend's scale plus div_precision_increment (4), rounded half up.
            Arith::Div => {
                let scale = x.fractional_digit_count().max(0) + 4;
                S::Dec((x / y).with_scale_round(scale, RoundingMode::HalfUp))
            }
            Arith::IntDiv => (x / y).with_scale_round(0, RoundingMode::Down).to_i128().map_or(S::Null, S::Int),
            Arith::Mod => S::Dec(x % y),
        };
    }
    let (x, y) = (to_f64(&a), to_f64(&b));
    match op {
        Arith::Add => S::Float(x + y),
        Arith::Sub => S::Float(x - y),
        Arith::Mul => S::Float(x * y),
        _ if y == 0.0 => S::Null,
        Arith::Div => S::Float(x / y),
        Arith::IntDiv => S::Int((x / y).trunc() as i128),
        Arith::Mod => S::Float(x % y),
    }
}

/// A value as text, with whether it compares case-insensitively.
fn to_text(s: &S) -> Option<(String, bool)> {
    Some(match s {
        S::Null => return None,
        S::Str(s, ci, _) => (s.clone(), *ci),
        S::Bytes(b) => (String::from_utf8_lossy(b).into_owned(), false),
        S::Int(i) => (i.to_string(), true),
        S::Dec(d) => (d.to_plain_string(), true),
        S::Float(f) => (f.to_string(), true),
        S::Dt(d, date_only) => {
            let mut t = format!("{:04}-{:02}-{:02}", d.year, d.month, d.day);
            if !date_only {
                let _ = write!(t, " {:02}:{:02}:{:02}", d.hour, d.minute, d.second);
                if d.micros > 0 {
                    let _ = write!(t, ".{:06}", d.micros);
                }
            }
            (t, true)
        }
        S::Time(t) => {
            let (neg, t) = (*t < 0, t.unsigned_abs());
            let secs = t / 1_000_000;
            (
                format!(
                    "{}{:02}:{:02}:{:02}",
                    if neg { "-" } else { "" },
                    secs / 3600,
                    secs / 60 % 60,
                    secs % 60
                ),
                true,
            )
        }
    })
}

/// One element of a LIKE pattern.
#[derive(Clone, Copy, PartialEq)]
enum Pat {
    /// `%`: any run of characters.
    Any,
    /// `_`: one character.
    One,
    Char(char),
}

/// SQL LIKE (`%` any run, `_` one character, `escape` quotes the next character): whether
/// `v` matches and the number of steps it took, or `None` when `interrupted` said to give up
/// (asked every [`INTERRUPT_STEPS`] steps). Greedy matching with one backtracking point:
/// on a mismatch, the last `%` takes one more character and matching resumes after it. Only
/// the last `%` needs revisiting (whatever an earlier one took, the later one can absorb), so
/// the work is at most (row length + 1) × (pattern length + 1) steps — linear in each, never
/// exponential as trying every split at every `%` is.
fn like_counted(v: &[char], p: &[char], escape: char, interrupted: &dyn Fn() -> bool) -> Option<(bool, usize)> {
    let mut pattern = Vec::with_capacity(p.len());
    let mut k = 0;
    while k < p.len() {
        match p[k] {
            c if c == escape && k + 1 < p.len() => {
                pattern.push(Pat::Char(p[k + 1]));
                k += 1;
            }
            '%' if pattern.last() == Some(&Pat::Any) => {}
            '%' => pattern.push(Pat::Any),
            '_' => pattern.push(Pat::One),
            c => pattern.push(Pat::Char(c)),
        }
        k += 1;
    }
    let (mut i, mut j, mut steps) = (0, 0, 0);
    // (pattern index after the last `%`, row index it resumes from)
    let mut star: Option<(usize, usize)> = None;
    while i < v.len() {
        steps += 1;
        if steps % INTERRUPT_STEPS == 0 && interrupted() {
            return None;
        }
        match pattern.get(j) {
            Some(Pat::One) => (i, j) = (i + 1, j + 1),
            Some(Pat::Char(c)) if *c == v[i] => (i, j) = (i + 1, j + 1),
            Some(Pat::Any) => {
                star = Some((j + 1, i));
                j += 1;
            }
            _ => match star {
                Some((after, from)) => {
                    star = Some((after, from + 1));
                    (i, j) = (from + 1, after);
                }
                None => return Some((false, steps)),
            },
        }
    }
    while pattern.get(j) == Some(&Pat::Any) {
        j += 1;
    }
    Some((j == pattern.len(), steps))
}

fn int_arg(s: &S) -> Option<i64> {
    match s {
        S::Null => None,
        S::Int(i) => i64::try_from(*i).ok(),
        other => Some(to_f64(other).round() as i64),
    }
}

fn call(func: Func, args: Vec<S>) -> S {
    let text = |i: usize| args.get(i).and_then(to_text);
    let keep = |s: String| match args.first() {
        Some(S::Str(_, ci, pad)) => S::Str(s, *ci, *pad),
        _ => S::Str(s, true, true),
    };
    let date = |s: &S| match s {
        S::Dt(d, _) => Some(*d),
        S::Str(s, _, _) => parse_datetime(s),
        _ => None,
    };
    match func {
        Func::Lower => text(0).map_or(S::Null, |(s, _)| keep(s.to_lowercase())),
        Func::Upper => text(0).map_or(S::Null, |(s, _)| keep(s.to_uppercase())),
        Func::Length => match args.first() {
            Some(S::Bytes(b)) => S::Int(b.len() as i128),
            _ => text(0).map_or(S::Null, |(s, _)| S::Int(s.len() as i128)),
        },
        Func::CharLength => text(0).map_or(S::Null, |(s, _)| S::Int(s.chars().count() as i128)),
        Func::Concat => {
            let mut out = String::new();
            for i in 0..args.len() {
                match text(i) {
                    Some((s, _)) => out.push_str(&s),
                    None => return S::Null,
                }
            }
            keep(out)
        }
        Func::Substring => {
            let (Some((s, _)), Some(pos)) = (text(0), args.get(1).and_then(int_arg)) else {
                return S::Null;
            };
            let chars: Vec<char> = s.chars().collect();
            let n = chars.len() as i64;
            let start = match pos {
                0 => return keep(String::new()),
                p if p > 0 => p - 1,
                p => n + p,
            };
            if start < 0 || start >= n {
                return keep(String::new());
            }
            let len = match args.get(2) {
                None => n - start,
                Some(l) => match int_arg(l) {
                    None => return S::Null,
                    Some(l) => l.max(0).min(n - start),
                },
            };
            keep(chars[start as usize..(start + len) as usize].iter().collect())
        }
        Func::Left | Func::Right => {
            let (Some((s, _)), Some(n)) = (text(0), args.get(1).and_then(int_arg)) else {
                return S::Null;
            };
            let chars: Vec<char> = s.chars().collect();
            let n = n.clamp(0, chars.len() as i64) as usize;
            keep(if func == Func::Left {
                chars[..n].iter().collect()
            } else {
                chars[chars.len() - n..].iter().collect()
            })
        }
        Func::Trim => text(0).map_or(S::Null, |(s, _)| keep(s.trim_matches(' ').to_string())),
        Func::Ltrim => text(0).map_or(S::Null, |(s, _)| keep(s.trim_start_matches(' ').to_string())),
        Func::Rtrim => text(0).map_or(S::Null, |(s, _)| keep(s.trim_end_matches(' ').to_string())),
        Func::Coalesce => args.into_iter().find(|a| !matches!(a, S::Null)).unwrap_or(S::Null),
        Func::Ifnull => {
            let mut it = args.into_iter();
            match (it.next(), it.next()) {
                (Some(S::Null), Some(b)) => b,
                (Some(a), _) => a,
                _ => S::Null,
            }
        }
        Func::Abs => match args.first() {
            None | Some(S::Null) => S::Null,
            Some(S::Int(i)) => S::Int(i.abs()),
            Some(S::Dec(d)) => S::Dec(d.abs()),
            Some(other) => S::Float(to_f64(other).abs()),
        },
        Func::Year | Func::Month | Func::Day => match args.first().and_then(date) {
            None => S::Null,
            Some(d) => S::Int(i128::from(match func {
                Func::Year => u32::from(d.year),
                Func::Month => u32::from(d.month),
                _ => u32::from(d.day),
            })),
        },
        Func::Date => match args.first().and_then(date) {
            None => S::Null,
            Some(d) => S::Dt(DateTime::new(d.year, d.month, d.day, 0, 0, 0, 0), true),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::schema::{Column, ColumnKind, bind_filter};

    fn columns() -> Vec<Column> {
        let c = |name: &str, kind: ColumnKind, collation: Option<&str>| Column {
            name: name.into(),
            target: name.into(),
            kind,
            collation: collation.map(Into::into),
            ..Default::default()
        };
        vec![
            c("id", ColumnKind::Int { unsigned: false, bytes: 4 }, None),
            c("name", ColumnKind::Text { charset: "utf8mb4".into() }, Some("utf8mb4_general_ci")),
            c("price", ColumnKind::Decimal { precision: 10, scale: 2 }, None),
            c("born", ColumnKind::Date, None),
        ]
    }

    fn eval(filter: &str, row: &[Value]) -> bool {
        bind_filter(&Filter::parse(filter).expect("parses"), &columns()).evaluate(row, &|| false) == Ok(true)
    }

    fn row(id: i64, name: Option<&str>, price: &str) -> Vec<Value> {
        vec![
            Value::Int(id),
            name.map_or(Value::Null, |n| Value::Text(n.into())),
            Value::Decimal(price.into()),
            Value::Date(DateTime::new(2020, 5, 17, 0, 0, 0, 0)),
        ]
    }

    #[test]
    fn three_valued_logic_and_null() {
        let r = row(1, None, "1.00");
        assert!(!eval("name = 'x'", &r));
        assert!(!eval("NOT (name = 'x')", &r));
        assert!(eval("name IS NULL", &r));
        assert!(eval("name = 'x' OR id = 1", &r));
        assert!(!eval("name NOT IN ('a', 'b')", &r));
        assert!(!eval("id NOT IN (2, NULL)", &r));
        assert!(eval("id IN (1, NULL)", &r));
        assert!(eval("name <=> NULL", &r));
    }

    #[test]
    fn collation_arithmetic_dates_and_like() {
        let r = row(7, Some("Alice  "), "10.25");
        assert!(eval("name = 'alice'", &r), "ci and PAD SPACE");
        assert!(eval("name LIKE 'al%'", &r));
        assert!(!eval("name LIKE 'al_ce'", &r), "LIKE does not pad");
        assert!(eval("price * 4 = 41", &r), "exact decimal arithmetic");
        assert!(eval("price BETWEEN 10.25 AND 10.25", &r));
        assert!(eval("id / 2 = 3.5", &r));
        assert!(eval("id DIV 2 = 3 AND id % 2 = 1", &r));
        assert!(eval("born >= '2020-05-17' AND YEAR(born) = 2020", &r));
        assert!(eval("UPPER(TRIM(name)) = 'ALICE' AND CHAR_LENGTH(name) = 7", &r));
        assert!(eval("id = '7abc'", &r), "string to number by prefix");
        assert!(eval("SUBSTRING(name, 2, 3) = 'lic' AND LEFT(name, 1) = 'a'", &r));
    }

    /// The pattern that kept a worker at 100% CPU for over a minute on a 40-character row,
    /// and its neighbours: the same answers as the obvious definition, in work that grows
    /// linearly with the row's and the pattern's length.
    #[test]
    fn like_is_linear_in_row_and_pattern() {
        let chars = |s: &str| s.chars().collect::<Vec<char>>();
        // The obvious definition, exponential: the reference for small cases.
        fn reference(v: &[char], p: &[char], e: char) -> bool {
            let Some(&first) = p.first() else { return v.is_empty() };
            match first {
                '%' => (0..=v.len()).any(|i| reference(&v[i..], &p[1..], e)),
                '_' => !v.is_empty() && reference(&v[1..], &p[1..], e),
                c if c == e && p.len() > 1 => v.first() == Some(&p[1]) && reference(&v[1..], &p[2..], e),
                c => v.first() == Some(&c) && reference(&v[1..], &p[1..], e),
            }
        }
        let rows = ["", "a", "ab", "aab", "abab", "ba", "a%b", "a_b", "xyz", "aaaa", "abcabc", "\\a"];
        let patterns = [
            "", "%", "_", "a", "%a", "a%", "%a%", "a%b", "%a%b", "_%_", "a\\%b", "a\\_b", "%b%a", "%%a%%", "\\\\a", "a\\",
        ];
        for row in rows {
            for pattern in patterns {
                let (r, p) = (chars(row), chars(pattern));
                let matched = like_counted(&r, &p, '\\', &|| false).map(|(m, _)| m);
                assert_eq!(matched, Some(reference(&r, &p, '\\')), "{row:?} LIKE {pattern:?}");
            }
        }
        let steps = |row_len: usize, segments: usize| {
            let row: Vec<char> = "a".repeat(row_len).chars().collect();
            let pattern: Vec<char> = format!("{}%b", "%a".repeat(segments)).chars().collect();
            let (matched, steps) = like_counted(&row, &pattern, '\\', &|| false).expect("not interrupted");
            assert!(!matched);
            steps
        };
        let base = steps(40, 12);
        assert!(base <= 41 * 27, "{base} steps for 40 characters and 12 segments");
        for k in [2, 4, 8, 16] {
            assert!(steps(40 * k, 12) <= k * base + 40 * k, "row x{k}: {} vs {base}", steps(40 * k, 12));
            assert!(
                steps(40, 12 * k) <= k * base + 40 * k,
                "pattern x{k}: {} vs {base}",
                steps(40, 12 * k)
            );
        }
    }

    /// A long evaluation asks whether to stop and gives up when told, so a worker told to
    /// stop is never held up by a LIKE on a long value; one that is not told answers.
    #[test]
    fn long_evaluation_gives_up_when_interrupted() {
        let filter = bind_filter(
            &Filter::parse(&format!("name LIKE '%{}b' OR id = 1", "a".repeat(200))).expect("parses"),
            &columns(),
        );
        let long = row(1, Some(&"a".repeat(20_000)), "1.00");
        let asked = Cell::new(0);
        let stop = || {
            asked.set(asked.get() + 1);
            true
        };
        assert_eq!(filter.evaluate(&long, &stop), Err(Interrupted));
        assert_eq!(asked.get(), 1, "asked once, then gave up");
        assert_eq!(filter.evaluate(&long, &|| false), Ok(true));
        // A short value is matched before the first question.
        asked.set(0);
        assert_eq!(filter.evaluate(&row(2, Some("aab"), "1.00"), &stop), Ok(false));
        assert_eq!(asked.get(), 0);
    }

    /// A filter too long or too deep for the evaluator is refused, with the limit, before it is
    /// parsed into a tree whose evaluation would overflow the stack.
    #[test]
    fn refuses_filters_too_long_or_too_deep() {
        let long = vec!["id = 1"; 10_000].join(" AND ");
        let err = Filter::parse(&long).expect_err("10,000 terms");
        assert!(err.contains("at most 4096 are accepted"), "{err}");
        let deep = vec!["id = 1"; 300].join(" OR ");
        let err = Filter::parse(&deep).expect_err("300 terms deep");
        assert!(err.contains("nests deeper than 256 levels"), "{err}");
        let plus = format!("id = {}", vec!["1"; 2000].join("+"));
        assert!(Filter::parse(&plus).expect_err("2,000 deep").contains("deeper than 256"));
        assert!(Filter::parse(&vec!["id = 1"; 200].join(" OR ")).is_ok());
    }

    #[test]
    fn refuses_with_position() {
        let err = Filter::parse("id > 1 AND created < NOW()").expect_err("NOW refused");
        assert!(err.contains("NOW()") && err.contains("line 1 column 22"), "{err}");
        let err = Filter::parse("id IN (SELECT 1)").expect_err("subquery refused");
        assert!(err.contains("subquery"), "{err}");
        let err = Filter::parse("id > 1 ORDER BY id").expect_err("trailing");
        assert!(err.contains("unexpected"), "{err}");
        let err = Filter::parse("SHA2(name, 256) = 'x'").expect_err("unknown function");
        assert!(err.contains("function SHA2"), "{err}");
    }

    #[test]
    fn renders_quoted_sql() {
        let f = Filter::parse("`name` = 'O''Brien\\\\' AND price > 1e2 OR id BETWEEN 1 AND 5").expect("parses");
        assert_eq!(
            f.sql(),
            "(((`name` = 'O\\'Brien\\\\') AND (`price` > 1e2)) OR (`id` BETWEEN 1 AND 5))"
        );
        assert_eq!(f.columns(), vec!["name", "price", "id"]);
    }
}
