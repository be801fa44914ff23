//! A protocol-2 pickle writer for crafting test checkpoints byte by byte.

/// A protocol-2 pickle writer for test checkpoints.
#[derive(Default)]
pub struct Pk(pub Vec<u8>);

impl Pk {
    pub fn op(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    pub fn global(&mut self, module: &str, name: &str) -> &mut Self {
        self.op(format!("c{module}\n{name}\n").as_bytes())
    }
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.op(b"X");
        self.op(&(s.len() as u32).to_le_bytes());
        self.op(s.as_bytes())
    }
    pub fn int(&mut self, i: i32) -> &mut Self {
        self.op(b"J");
        self.op(&i.to_le_bytes())
    }
    pub fn float(&mut self, v: f64) -> &mut Self {
        self.op(b"G");
        self.op(&v.to_be_bytes())
    }
    pub fn ints(&mut self, v: &[i32]) -> &mut Self {
        self.op(b"(");
        for &i in v {
            self.int(i);
        }
        self.op(b"t")
    }
    pub fn tensor(
        &mut self,
        storage: &str,
        key: &str,
        numel: i32,
        offset: i32,
        size: &[i32],
        stride: &[i32],
    ) -> &mut Self {
        self.global("torch._utils", "_rebuild_tensor_v2").op(b"(");
        self.op(b"(")
            .str("storage")
            .global("torch", storage)
            .str(key)
            .str("cpu")
            .int(numel);
        self.op(b"tQ")
            .int(offset)
            .ints(size)
            .ints(stride)
            .op(b"\x89");
        self.global("collections", "OrderedDict")
            .op(b")R")
            .op(b"tR")
    }
    /// `_rebuild_tensor_v2` of a contiguous float32 storage `key` holding `numel` values.
    pub fn float_tensor(&mut self, key: &str, numel: i32, size: &[i32]) -> &mut Self {
        let stride: Vec<i32> = match size {
            [_, c] => vec![*c, 1],
            _ => vec![1],
        };
        self.tensor("FloatStorage", key, numel, 0, size, &stride)
    }
    pub fn module(&mut self, module: &str, class: &str, attrs: &[(&str, f64)]) -> &mut Self {
        self.global(module, class).op(b")\x81}");
        for (k, v) in attrs {
            self.str(k).float(*v).op(b"s");
        }
        self.op(b"b")
    }
}
