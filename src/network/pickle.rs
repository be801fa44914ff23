//! A hand-written unpickler for the `data.pkl` of `torch.save` checkpoints that can never run
//! code: it builds plain data (dicts, lists, module objects, tensor descriptions) and knows only
//! an allow-list of globals; any other global is refused by name before anything is built.
//!
//! Values live in an arena and refer to containers by index, so shared and even cyclic
//! structures (which a hostile pickle can make) cost nothing special, cloning is cheap, and
//! dropping never recurses however deeply a pickle nests its containers.

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

/// Element type of a torch storage (`torch.FloatStorage` and friends).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StorageDtype {
    F32,
    F64,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl StorageDtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            StorageDtype::F64 | StorageDtype::I64 => 8,
            StorageDtype::F32 | StorageDtype::I32 => 4,
            StorageDtype::F16 | StorageDtype::BF16 | StorageDtype::I16 => 2,
            StorageDtype::I8 | StorageDtype::U8 | StorageDtype::Bool => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StorageDtype::F32 => "float32",
            StorageDtype::F64 => "float64",
            StorageDtype::F16 => "float16",
            StorageDtype::BF16 => "bfloat16",
            StorageDtype::I64 => "int64",
            StorageDtype::I32 => "int32",
            StorageDtype::I16 => "int16",
            StorageDtype::I8 => "int8",
            StorageDtype::U8 => "uint8",
            StorageDtype::Bool => "bool",
        }
    }
}

/// The globals a checkpoint may name. Each is inert data here: "calling" one builds a value
/// of this module's own types, nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Global {
    OrderedDict,
    Set,
    FrozenSet,
    RebuildTensorV2,
    RebuildParameter,
    RebuildParameterWithState,
    Storage(StorageDtype),
    /// A `torch.nn` module class, by its full dotted name.
    Module(&'static str),
}

/// Module classes a network file may contain: containers, `Linear`, `Identity` and the
/// activations the network model knows (SPEC §3.1).
const MODULE_CLASSES: &[&str] = &[
    "torch.nn.modules.container.ParameterList",
    "torch.nn.modules.container.ModuleList",
    "torch.nn.modules.container.Sequential",
    "torch.nn.modules.linear.Linear",
    "torch.nn.modules.linear.Identity",
    "torch.nn.modules.activation.ReLU",
    "torch.nn.modules.activation.LeakyReLU",
    "torch.nn.modules.activation.Tanh",
    "torch.nn.modules.activation.SiLU",
    "torch.nn.modules.activation.Sigmoid",
    "torch.nn.modules.activation.GELU",
    "torch.nn.modules.activation.Softplus",
    "torch.nn.modules.activation.ELU",
];

/// The allow-list: `module.name` → what it stands for. `__builtin__` is protocol 2's
/// spelling of `builtins`.
fn lookup_global(module: &str, name: &str) -> Option<Global> {
    let module = if module == "__builtin__" {
        "builtins"
    } else {
        module
    };
    let g = match (module, name) {
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("builtins", "set") => Global::Set,
        ("builtins", "frozenset") => Global::FrozenSet,
        ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensorV2,
        ("torch._utils", "_rebuild_parameter") => Global::RebuildParameter,
        ("torch._utils", "_rebuild_parameter_with_state") => Global::RebuildParameterWithState,
        ("torch", storage) => Global::Storage(match storage {
            "FloatStorage" => StorageDtype::F32,
            "DoubleStorage" => StorageDtype::F64,
            "HalfStorage" => StorageDtype::F16,
            "BFloat16Storage" => StorageDtype::BF16,
            "LongStorage" => StorageDtype::I64,
            "IntStorage" => StorageDtype::I32,
            "ShortStorage" => StorageDtype::I16,
            "CharStorage" => StorageDtype::I8,
            "ByteStorage" => StorageDtype::U8,
            "BoolStorage" => StorageDtype::Bool,
            _ => return None,
        }),
        _ => {
            let full = format!("{module}.{name}");
            let class = MODULE_CLASSES.iter().find(|c| **c == full)?;
            Global::Module(class)
        }
    };
    Some(g)
}

/// Index of a container in the arena of a [`Pickle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeId(usize);

/// A pickled value. Containers are [`Value::Ref`]s into the arena.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Global(Global),
    Ref(NodeId),
}

/// Hashable dict keys: the scalar keys checkpoints use. Other keys are kept but never merged.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Str(Rc<str>),
    Int(i64),
}

impl Key {
    fn of(v: &Value) -> Option<Key> {
        match v {
            Value::Str(s) => Some(Key::Str(s.clone())),
            Value::Int(i) => Some(Key::Int(*i)),
            Value::Bool(b) => Some(Key::Int(i64::from(*b))),
            _ => None,
        }
    }
}

/// An insertion-ordered dict (plain `dict` and `OrderedDict` alike).
#[derive(Clone, Debug, Default)]
pub struct Dict {
    entries: Vec<(Value, Value)>,
    index: HashMap<Key, usize>,
}

impl Dict {
    fn insert(&mut self, k: Value, v: Value) {
        match Key::of(&k) {
            Some(key) => match self.index.get(&key) {
                Some(&i) => {
                    if let Some(e) = self.entries.get_mut(i) {
                        e.1 = v;
                    }
                }
                None => {
                    self.index.insert(key, self.entries.len());
                    self.entries.push((k, v));
                }
            },
            None => self.entries.push((k, v)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        let i = *self.index.get(&Key::Str(Rc::from(key)))?;
        self.entries.get(i).map(|e| &e.1)
    }

    pub fn entries(&self) -> &[(Value, Value)] {
        &self.entries
    }
}

/// A storage named by a checkpoint's persistent id: its bytes are the archive member
/// `data/<key>`, holding `numel` elements of `dtype`.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageRef {
    pub dtype: StorageDtype,
    pub key: Rc<str>,
    pub numel: u64,
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage. The view is
/// checked to lie inside the storage's declared length when it is built.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorRef {
    pub storage: StorageRef,
    pub offset: u64,
    pub size: Vec<u64>,
    pub stride: Vec<u64>,
}

impl TensorRef {
    /// Number of elements of the view (checked when built, so it fits a u64).
    pub fn numel(&self) -> u64 {
        self.size.iter().product()
    }
}

/// A container in the arena.
#[derive(Clone, Debug)]
pub enum Node {
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Dict),
    Set(Vec<Value>),
    /// An instance of an allow-listed module class: its constructor arguments and the state
    /// `BUILD` gave it (the module's `__dict__`).
    Object {
        class: &'static str,
        args: Value,
        state: Value,
    },
    Storage(StorageRef),
    Tensor(TensorRef),
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Node::Tuple(_) => "tuple",
            Node::List(_) => "list",
            Node::Dict(_) => "dict",
            Node::Set(_) => "set",
            Node::Object { .. } => "module object",
            Node::Storage(_) => "storage",
            Node::Tensor(_) => "tensor",
        }
    }
}

/// Why a pickle was not read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PickleError {
    #[error(
        "refusing to load: the pickle names `{name}`, which is not on the allow-list of \
         classes a network file may contain (loading a network never runs code)"
    )]
    Forbidden { name: String },
    #[error("malformed pickle at byte {at}: {what}")]
    Malformed { at: usize, what: String },
}

/// A decoded pickle: the arena and the root value.
pub struct Pickle {
    nodes: Vec<Node>,
    root: Value,
}

impl fmt::Debug for Pickle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Pickle({} nodes, root {:?})",
            self.nodes.len(),
            self.root
        )
    }
}

impl Pickle {
    pub fn root(&self) -> &Value {
        &self.root
    }

    pub fn node(&self, v: &Value) -> Option<&Node> {
        match v {
            Value::Ref(id) => self.nodes.get(id.0),
            _ => None,
        }
    }

    pub fn dict(&self, v: &Value) -> Option<&Dict> {
        match self.node(v)? {
            Node::Dict(d) => Some(d),
            _ => None,
        }
    }

    pub fn tensor(&self, v: &Value) -> Option<&TensorRef> {
        match self.node(v)? {
            Node::Tensor(t) => Some(t),
            _ => None,
        }
    }

    /// Items of a list or tuple.
    pub fn sequence(&self, v: &Value) -> Option<&[Value]> {
        match self.node(v)? {
            Node::List(items) | Node::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// A module object's class and its state dict (its attributes); a module built
    /// without state has an empty one.
    pub fn object(&self, v: &Value) -> Option<(&'static str, Option<&Dict>)> {
        match self.node(v)? {
            Node::Object { class, state, .. } => Some((class, self.dict(state))),
            _ => None,
        }
    }

    /// A short description of a value for error messages.
    pub fn kind(&self, v: &Value) -> String {
        match v {
            Value::None => "None".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float".into(),
            Value::Str(_) => "str".into(),
            Value::Bytes(_) => "bytes".into(),
            Value::Global(g) => format!("global {g:?}"),
            Value::Ref(_) => match self.node(v) {
                Some(Node::Object { class, .. }) => format!("`{class}` object"),
                Some(n) => n.kind().into(),
                None => "dangling reference".into(),
            },
        }
    }
}

/// Reads a pickle (protocols 2–5, the binary opcodes plus the few text ones torch never
/// writes but old tools might). Out-of-band buffers, extension codes and protocol 0/1
/// instance opcodes are refused as unsupported.
pub fn unpickle(data: &[u8]) -> Result<Pickle, PickleError> {
    let mut m = Machine {
        data,
        pos: 0,
        op_at: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        nodes: Vec::new(),
        copy_budget: data.len().saturating_mul(64).saturating_add(1 << 20),
    };
    let root = m.run()?;
    Ok(Pickle {
        nodes: m.nodes,
        root,
    })
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    op_at: usize,
    stack: Vec<Value>,
    /// Stack heights at each open MARK.
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    nodes: Vec<Node>,
    /// Items we may still copy out of containers: sharing lets a small pickle name one big
    /// container many times, and copying it each time would take quadratic time and memory.
    copy_budget: usize,
}

type Res<T> = Result<T, PickleError>;

/// The most containers, stack entries and memo entries a pickle may build at once (a few
/// hundred megabytes at most; a network of 100,000 tensors needs a tenth of it).
const MAX_VALUES: usize = 1 << 22;

impl Machine<'_> {
    fn err<T>(&self, what: impl Into<String>) -> Res<T> {
        Err(PickleError::Malformed {
            at: self.op_at,
            what: what.into(),
        })
    }

    fn take(&mut self, n: usize) -> Res<&[u8]> {
        let end = match self.pos.checked_add(n) {
            Some(e) if e <= self.data.len() => e,
            _ => {
                return Err(PickleError::Malformed {
                    at: self.op_at,
                    what: format!(
                        "truncated: an operand needs {n} bytes but only {} remain",
                        self.data.len().saturating_sub(self.pos)
                    ),
                });
            }
        };
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn take_array<const N: usize>(&mut self) -> Res<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u8(&mut self) -> Res<u8> {
        Ok(self.take_array::<1>()?[0])
    }
    fn u16(&mut self) -> Res<u16> {
        Ok(u16::from_le_bytes(self.take_array()?))
    }
    fn u32(&mut self) -> Res<u32> {
        Ok(u32::from_le_bytes(self.take_array()?))
    }
    fn u64_len(&mut self) -> Res<usize> {
        let n = u64::from_le_bytes(self.take_array()?);
        match usize::try_from(n) {
            Ok(n) => Ok(n),
            Err(_) => self.err(format!("length {n} does not fit in memory")),
        }
    }

    /// A text line (protocol 0 operands), without its newline.
    fn line(&mut self) -> Res<&str> {
        let rest = &self.data[self.pos.min(self.data.len())..];
        let Some(n) = rest.iter().position(|&b| b == b'\n') else {
            return self.err("truncated: a text operand has no end of line");
        };
        let bytes = &rest[..n];
        self.pos += n + 1;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s),
            Err(_) => Err(PickleError::Malformed {
                at: self.op_at,
                what: "a text operand is not UTF-8".into(),
            }),
        }
    }

    fn utf8(&mut self, n: usize) -> Res<Value> {
        let bytes = self.take(n)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Value::Str(Rc::from(s))),
            Err(_) => self.err("a string is not valid UTF-8"),
        }
    }

    /// Python 2 `str` (BINSTRING): bytes that Python 3 decodes as Latin-1 for us.
    fn latin1(&mut self, n: usize) -> Res<Value> {
        let bytes = self.take(n)?;
        let s: String = bytes.iter().map(|&b| char::from(b)).collect();
        Ok(Value::Str(Rc::from(s)))
    }

    fn bytes(&mut self, n: usize) -> Res<Value> {
        let bytes = self.take(n)?;
        Ok(Value::Bytes(Rc::from(bytes)))
    }

    fn new_node(&mut self, n: Node) -> Value {
        self.nodes.push(n);
        Value::Ref(NodeId(self.nodes.len() - 1))
    }

    fn node_mut(&mut self, v: &Value) -> Option<&mut Node> {
        match v {
            Value::Ref(id) => self.nodes.get_mut(id.0),
            _ => None,
        }
    }

    fn node(&self, v: &Value) -> Option<&Node> {
        match v {
            Value::Ref(id) => self.nodes.get(id.0),
            _ => None,
        }
    }

    fn floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self) -> Res<Value> {
        if self.stack.len() <= self.floor() {
            return self.err("stack underflow");
        }
        match self.stack.pop() {
            Some(v) => Ok(v),
            None => self.err("stack underflow"),
        }
    }

    fn top(&self) -> Res<Value> {
        if self.stack.len() <= self.floor() {
            return self.err("stack underflow");
        }
        match self.stack.last() {
            Some(v) => Ok(v.clone()),
            None => self.err("stack underflow"),
        }
    }

    fn pop_mark(&mut self) -> Res<Vec<Value>> {
        match self.marks.pop() {
            Some(m) if m <= self.stack.len() => Ok(self.stack.split_off(m)),
            _ => self.err("no MARK to pop to"),
        }
    }

    fn memo_put(&mut self, idx: u32) -> Res<()> {
        let v = self.top()?;
        self.memo.insert(idx, v);
        Ok(())
    }

    fn memo_get(&mut self, idx: u32) -> Res<()> {
        match self.memo.get(&idx) {
            Some(v) => {
                let v = v.clone();
                self.stack.push(v);
                Ok(())
            }
            None => self.err(format!("memo entry {idx} is read before it is written")),
        }
    }

    fn global(&mut self, module: &str, name: &str) -> Res<()> {
        match lookup_global(module, name) {
            Some(g) => {
                self.stack.push(Value::Global(g));
                Ok(())
            }
            None => Err(PickleError::Forbidden {
                name: format!("{module}.{name}"),
            }),
        }
    }

    fn charge(&mut self, n: usize) -> Res<()> {
        match self.copy_budget.checked_sub(n) {
            Some(rest) => {
                self.copy_budget = rest;
                Ok(())
            }
            None => self.err("the pickle copies more data than its size can justify"),
        }
    }

    fn items_of(&mut self, v: &Value) -> Res<Vec<Value>> {
        let items = match self.node(v) {
            Some(Node::List(i) | Node::Tuple(i) | Node::Set(i)) => i.clone(),
            _ => return self.err("expected a list, tuple or set of items"),
        };
        self.charge(items.len())?;
        Ok(items)
    }

    fn args_of(&mut self, v: &Value) -> Res<Vec<Value>> {
        let items = match self.node(v) {
            Some(Node::Tuple(i)) => i.clone(),
            _ => return self.err("call arguments are not a tuple"),
        };
        self.charge(items.len())?;
        Ok(items)
    }

    fn non_negative(&self, v: &Value, what: &str) -> Res<u64> {
        match v {
            Value::Int(i) if *i >= 0 => Ok(*i as u64),
            _ => self.err(format!("{what} is not a non-negative integer")),
        }
    }

    fn int_tuple(&mut self, v: &Value, what: &str) -> Res<Vec<u64>> {
        let items = match self.node(v) {
            Some(Node::Tuple(items)) => items.clone(),
            _ => return self.err(format!("{what} is not a tuple")),
        };
        self.charge(items.len())?;
        items.iter().map(|i| self.non_negative(i, what)).collect()
    }

    /// `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])`.
    fn rebuild_tensor(&mut self, args: &[Value]) -> Res<Value> {
        if !(6..=7).contains(&args.len()) {
            return self.err(format!(
                "_rebuild_tensor_v2 takes 6 or 7 arguments, got {}",
                args.len()
            ));
        }
        let storage = match self.node(&args[0]) {
            Some(Node::Storage(s)) => s.clone(),
            _ => return self.err("_rebuild_tensor_v2: the first argument is not a storage"),
        };
        let offset = self.non_negative(&args[1], "tensor storage offset")?;
        let size = self.int_tuple(&args[2], "tensor size")?;
        let stride = self.int_tuple(&args[3], "tensor stride")?;
        if size.len() != stride.len() {
            return self.err(format!(
                "tensor has {} sizes but {} strides",
                size.len(),
                stride.len()
            ));
        }
        let mut numel: u64 = 1;
        let mut last: u64 = offset;
        for (&n, &s) in size.iter().zip(&stride) {
            numel = match numel.checked_mul(n) {
                Some(v) => v,
                None => return self.err("tensor size overflows"),
            };
            last = match n.checked_sub(1).map(|m| m.checked_mul(s)) {
                Some(Some(step)) => match last.checked_add(step) {
                    Some(v) => v,
                    None => return self.err("tensor extent overflows"),
                },
                Some(None) => return self.err("tensor extent overflows"),
                None => last,
            };
        }
        if numel > 0 && last >= storage.numel {
            return self.err(format!(
                "tensor view (offset {offset}, size {size:?}, stride {stride:?}) reaches element \
                 {last} of storage data/{} which has {} elements",
                storage.key, storage.numel
            ));
        }
        Ok(self.new_node(Node::Tensor(TensorRef {
            storage,
            offset,
            size,
            stride,
        })))
    }

    /// Calls an allow-listed global (REDUCE): builds data, runs nothing.
    fn call(&mut self, callable: Value, args: Value) -> Res<Value> {
        let Value::Global(g) = callable else {
            return self.err(format!(
                "REDUCE on a {}, which is not callable here",
                match self.node(&callable) {
                    Some(n) => n.kind(),
                    None => "scalar",
                }
            ));
        };
        let a = self.args_of(&args)?;
        match g {
            Global::OrderedDict => {
                let mut d = Dict::default();
                if let Some(pairs) = a.first() {
                    for p in self.items_of(pairs)? {
                        match self.node(&p) {
                            Some(Node::Tuple(kv) | Node::List(kv)) if kv.len() == 2 => {
                                d.insert(kv[0].clone(), kv[1].clone())
                            }
                            _ => return self.err("OrderedDict(...) item is not a pair"),
                        }
                    }
                }
                Ok(self.new_node(Node::Dict(d)))
            }
            Global::Set | Global::FrozenSet => {
                let items = match a.first() {
                    Some(v) => self.items_of(v)?,
                    None => Vec::new(),
                };
                Ok(self.new_node(Node::Set(items)))
            }
            Global::RebuildTensorV2 => self.rebuild_tensor(&a),
            Global::RebuildParameter | Global::RebuildParameterWithState => match a.first() {
                Some(t) if matches!(self.node(t), Some(Node::Tensor(_))) => Ok(t.clone()),
                _ => self.err("_rebuild_parameter: the first argument is not a tensor"),
            },
            Global::Storage(d) => self.err(format!(
                "a {} storage class is called directly, which torch never does",
                d.name()
            )),
            Global::Module(class) => Ok(self.new_node(Node::Object {
                class,
                args,
                state: Value::None,
            })),
        }
    }

    /// `cls.__new__(cls, *args)` (NEWOBJ).
    fn new_object(&mut self, cls: Value, args: Value) -> Res<Value> {
        match cls {
            Value::Global(Global::Module(class)) => Ok(self.new_node(Node::Object {
                class,
                args,
                state: Value::None,
            })),
            Value::Global(Global::OrderedDict) => Ok(self.new_node(Node::Dict(Dict::default()))),
            Value::Global(Global::Set | Global::FrozenSet) => {
                Ok(self.new_node(Node::Set(Vec::new())))
            }
            _ => self.err("NEWOBJ on something that is not an allowed class"),
        }
    }

    /// BUILD: a module object takes the state as its attributes; other targets (an
    /// OrderedDict's `_metadata`) keep nothing we need.
    fn build(&mut self) -> Res<()> {
        let state = self.pop()?;
        let target = self.top()?;
        // A (dict, slots) pair is how objects with __slots__ pickle their state.
        let state = match self.node(&state) {
            Some(Node::Tuple(t)) if t.len() == 2 => t[0].clone(),
            _ => state,
        };
        let new_entries = match self.node(&state) {
            Some(Node::Dict(d)) => Some(d.entries.clone()),
            _ => None,
        };
        self.charge(new_entries.as_ref().map_or(0, Vec::len))?;
        let old_state = match self.node(&target) {
            Some(Node::Object { state, .. }) => state.clone(),
            Some(Node::Dict(_)) => return Ok(()),
            Some(n) => return self.err(format!("BUILD on a {}", n.kind())),
            None => return self.err("BUILD on a scalar"),
        };
        // A second BUILD updates the attributes, as `__dict__.update` would.
        if let (Some(entries), Some(Node::Dict(old))) = (new_entries, self.node_mut(&old_state)) {
            for (k, v) in entries {
                old.insert(k, v);
            }
            return Ok(());
        }
        if let Some(Node::Object { state: s, .. }) = self.node_mut(&target) {
            *s = state;
        }
        Ok(())
    }

    /// BINPERSID: torch's `('storage', StorageClass, key, location, numel)`.
    fn persistent_load(&mut self, pid: Value) -> Res<Value> {
        let t = match self.node(&pid) {
            Some(Node::Tuple(t)) if t.len() == 5 => t.clone(),
            _ => return self.err("persistent id is not a tuple of 5 fields"),
        };
        if t[0] != Value::Str(Rc::from("storage")) {
            return self.err("persistent id is not a ('storage', ...) record of 5 fields");
        }
        let Value::Global(Global::Storage(dtype)) = t[1] else {
            return self.err("persistent id does not name a storage class");
        };
        let Value::Str(key) = &t[2] else {
            return self.err("storage key is not a string");
        };
        let numel = self.non_negative(&t[4], "storage length")?;
        let storage = StorageRef {
            dtype,
            key: key.clone(),
            numel,
        };
        Ok(self.new_node(Node::Storage(storage)))
    }

    fn append(&mut self, items: Vec<Value>) -> Res<()> {
        let target = self.top()?;
        match self.node_mut(&target) {
            Some(Node::List(l)) => {
                l.extend(items);
                Ok(())
            }
            _ => self.err("APPEND to something that is not a list"),
        }
    }

    fn set_items(&mut self, items: Vec<Value>) -> Res<()> {
        if !items.len().is_multiple_of(2) {
            return self.err("SETITEMS with an odd number of items");
        }
        let target = self.top()?;
        match self.node_mut(&target) {
            Some(Node::Dict(d)) => {
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    d.insert(k, v);
                }
                Ok(())
            }
            _ => self.err("SETITEM on something that is not a dict"),
        }
    }

    fn small_int(&mut self, n: usize) -> Res<Value> {
        let bytes = self.take(n)?;
        if n > 8 {
            return self.err(format!("an integer of {n} bytes is too large"));
        }
        if n == 0 {
            return Ok(Value::Int(0));
        }
        let mut buf = [0u8; 8];
        buf[..n].copy_from_slice(bytes);
        if bytes[n - 1] & 0x80 != 0 {
            for b in &mut buf[n..] {
                *b = 0xff;
            }
        }
        Ok(Value::Int(i64::from_le_bytes(buf)))
    }

    fn run(&mut self) -> Res<Value> {
        loop {
            // Deflate packs a megabyte of one-byte opcodes into a kilobyte of file, and each
            // opcode can cost ~100 bytes of memory: bound what is built, not only the bytes.
            if self.nodes.len() + self.stack.len() + self.memo.len() > MAX_VALUES {
                return self.err(format!(
                    "the pickle builds more than {MAX_VALUES} values; a network's pickle holds \
                     a few dozen per tensor"
                ));
            }
            self.op_at = self.pos;
            let Some(&op) = self.data.get(self.pos) else {
                return self.err("truncated: the pickle ends without STOP");
            };
            self.pos += 1;
            match op {
                0x80 => {
                    let v = self.u8()?;
                    if v > 5 {
                        return self.err(format!("pickle protocol {v} is newer than 5"));
                    }
                }
                0x95 => {
                    let n = self.u64_len()?;
                    if n > self.data.len() - self.pos {
                        return self.err("truncated: a FRAME is longer than the data");
                    }
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?;
                    self.stack.push(v);
                }
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'J' => {
                    let v = i32::from_le_bytes(self.take_array()?);
                    self.stack.push(Value::Int(i64::from(v)));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(i64::from(v)));
                }
                b'M' => {
                    let v = self.u16()?;
                    self.stack.push(Value::Int(i64::from(v)));
                }
                0x8a => {
                    let n = usize::from(self.u8()?);
                    let v = self.small_int(n)?;
                    self.stack.push(v);
                }
                0x8b => {
                    let n = self.u32()? as usize;
                    let v = self.small_int(n)?;
                    self.stack.push(v);
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.take_array()?);
                    self.stack.push(Value::Float(v));
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let v = self.utf8(n)?;
                    self.stack.push(v);
                }
                0x8c => {
                    let n = usize::from(self.u8()?);
                    let v = self.utf8(n)?;
                    self.stack.push(v);
                }
                0x8d => {
                    let n = self.u64_len()?;
                    let v = self.utf8(n)?;
                    self.stack.push(v);
                }
                b'T' => {
                    let n = i32::from_le_bytes(self.take_array()?);
                    let Ok(n) = usize::try_from(n) else {
                        return self.err("BINSTRING with a negative length");
                    };
                    let v = self.latin1(n)?;
                    self.stack.push(v);
                }
                b'U' => {
                    let n = usize::from(self.u8()?);
                    let v = self.latin1(n)?;
                    self.stack.push(v);
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    let v = self.bytes(n)?;
                    self.stack.push(v);
                }
                b'C' => {
                    let n = usize::from(self.u8()?);
                    let v = self.bytes(n)?;
                    self.stack.push(v);
                }
                0x8e | 0x96 => {
                    let n = self.u64_len()?;
                    let v = self.bytes(n)?;
                    self.stack.push(v);
                }
                b'}' => {
                    let v = self.new_node(Node::Dict(Dict::default()));
                    self.stack.push(v);
                }
                b']' => {
                    let v = self.new_node(Node::List(Vec::new()));
                    self.stack.push(v);
                }
                b')' => {
                    let v = self.new_node(Node::Tuple(Vec::new()));
                    self.stack.push(v);
                }
                0x8f => {
                    let v = self.new_node(Node::Set(Vec::new()));
                    self.stack.push(v);
                }
                b't' => {
                    let items = self.pop_mark()?;
                    let v = self.new_node(Node::Tuple(items));
                    self.stack.push(v);
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    let v = self.new_node(Node::Tuple(items));
                    self.stack.push(v);
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    let v = self.new_node(Node::List(items));
                    self.stack.push(v);
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let v = self.new_node(Node::Dict(Dict::default()));
                    self.stack.push(v);
                    self.set_items(items)?;
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    let v = self.new_node(Node::Set(items));
                    self.stack.push(v);
                }
                0x90 => {
                    let items = self.pop_mark()?;
                    let target = self.top()?;
                    match self.node_mut(&target) {
                        Some(Node::Set(s)) => s.extend(items),
                        _ => return self.err("ADDITEMS to something that is not a set"),
                    }
                }
                b'a' => {
                    let item = self.pop()?;
                    self.append(vec![item])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.append(items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?;
                }
                b'q' => {
                    let i = self.u8()?;
                    self.memo_put(u32::from(i))?;
                }
                b'r' => {
                    let i = self.u32()?;
                    self.memo_put(i)?;
                }
                0x94 => {
                    let Ok(i) = u32::try_from(self.memo.len()) else {
                        return self.err("memo is full");
                    };
                    self.memo_put(i)?;
                }
                b'p' => {
                    let line = self.line()?;
                    let Ok(i) = line.trim().parse::<u32>() else {
                        return self.err("PUT with a bad index");
                    };
                    self.memo_put(i)?;
                }
                b'h' => {
                    let i = self.u8()?;
                    self.memo_get(u32::from(i))?;
                }
                b'j' => {
                    let i = self.u32()?;
                    self.memo_get(i)?;
                }
                b'g' => {
                    let line = self.line()?;
                    let Ok(i) = line.trim().parse::<u32>() else {
                        return self.err("GET with a bad index");
                    };
                    self.memo_get(i)?;
                }
                b'c' => {
                    let module = self.line()?.to_owned();
                    let name = self.line()?.to_owned();
                    self.global(&module, &name)?;
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Value::Str(module), Value::Str(name)) = (module, name) else {
                        return self.err("STACK_GLOBAL operands are not strings");
                    };
                    self.global(&module, &name)?;
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = self.call(callable, args)?;
                    self.stack.push(v);
                }
                0x81 => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let v = self.new_object(cls, args)?;
                    self.stack.push(v);
                }
                0x92 => {
                    let _kwargs = self.pop()?;
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let v = self.new_object(cls, args)?;
                    self.stack.push(v);
                }
                b'b' => self.build()?,
                b'Q' => {
                    let pid = self.pop()?;
                    let v = self.persistent_load(pid)?;
                    self.stack.push(v);
                }
                _ => {
                    return self.err(format!(
                        "unsupported pickle opcode 0x{op:02x}{}",
                        match opcode_name(op) {
                            Some(n) => format!(" ({n})"),
                            None => String::new(),
                        }
                    ));
                }
            }
        }
    }
}

/// Names of opcodes this reader refuses, for clearer messages.
fn opcode_name(op: u8) -> Option<&'static str> {
    Some(match op {
        b'i' => "INST: protocol-0 object construction",
        b'o' => "OBJ: protocol-1 object construction",
        0x82..=0x84 => "EXT: extension registry lookup",
        0x97 => "NEXT_BUFFER: out-of-band data",
        0x98 => "READONLY_BUFFER: out-of-band data",
        b'P' => "PERSID: text persistent id",
        b'I' | b'L' | b'F' | b'S' | b'V' => "protocol-0 text value",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_globals_outside_the_allow_list_by_name() {
        let err =
            unpickle(b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85R.").unwrap_err();
        assert_eq!(
            err,
            PickleError::Forbidden {
                name: "os.system".into()
            }
        );
        let err = unpickle(b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93.").unwrap_err();
        assert!(err.to_string().contains("`builtins.eval`"), "{err}");
    }

    #[test]
    fn builds_shared_and_cyclic_structures_without_trouble() {
        // l = []; l.append(l); d = {'a': l, 'b': l}
        let p = unpickle(b"\x80\x02}q\x00(X\x01\x00\x00\x00a]q\x01h\x01aX\x01\x00\x00\x00bh\x01u.")
            .unwrap();
        let d = p.dict(p.root()).unwrap();
        let a = d.get("a").unwrap();
        assert_eq!(d.get("b"), Some(a));
        assert_eq!(p.sequence(a).unwrap(), std::slice::from_ref(a));
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let mut data = b"\x80\x02".to_vec();
        data.extend(std::iter::repeat_n(b']', 200_000));
        data.extend(std::iter::repeat_n(b'a', 199_999));
        data.push(b'.');
        let p = unpickle(&data).unwrap();
        assert_eq!(p.sequence(p.root()).unwrap().len(), 1);
    }

    #[test]
    fn scalars_decode() {
        // (-2 as LONG1, 1.5 as BINFLOAT, -7 as BININT, 'é' as SHORT_BINUNICODE)
        let p = unpickle(
            b"\x80\x02(\x8a\x01\xfeG?\xf8\x00\x00\x00\x00\x00\x00J\xf9\xff\xff\xff\x8c\x02\xc3\xa9t.",
        )
        .unwrap();
        let items = p.sequence(p.root()).unwrap();
        assert_eq!(items[0], Value::Int(-2));
        assert_eq!(items[1], Value::Float(1.5));
        assert_eq!(items[2], Value::Int(-7));
        assert_eq!(items[3], Value::Str(Rc::from("é")));
    }

    #[test]
    fn truncation_and_underflow_are_errors() {
        assert!(unpickle(b"\x80\x02}").is_err());
        assert!(unpickle(b"\x80\x02X\x05\x00\x00\x00ab").is_err());
        assert!(unpickle(b"\x80\x02(a.").is_err());
        assert!(unpickle(b"\x80\x02h\x03.").is_err());
    }
}
