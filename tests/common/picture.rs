//! PNG pictures read back for tests: size, pixels, and measures that tell a drawing from a
//! blank one.

use std::path::Path;

pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<[u8; 3]>,
}

impl Picture {
    /// Decodes an 8-bit RGB PNG (what the plot module writes); panics naming the file otherwise.
    pub fn read(path: &Path) -> Picture {
        let file = std::fs::File::open(path)
            .unwrap_or_else(|e| panic!("{} not written: {e}", path.display()));
        let mut reader = png::Decoder::new(std::io::BufReader::new(file))
            .read_info()
            .expect("PNG header decodes");
        let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut buf).expect("PNG data decodes");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        let rgb = buf[..info.buffer_size()]
            .chunks_exact(3)
            .map(|c| [c[0], c[1], c[2]])
            .collect();
        Picture {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    pub fn luminance(c: [u8; 3]) -> f64 {
        0.299 * f64::from(c[0]) + 0.587 * f64::from(c[1]) + 0.114 * f64::from(c[2])
    }

    /// Variance of the pixels' luminance: 0 for a one-colour picture.
    pub fn luminance_variance(&self) -> f64 {
        let n = self.rgb.len() as f64;
        let mean = self.rgb.iter().map(|&c| Self::luminance(c)).sum::<f64>() / n;
        self.rgb
            .iter()
            .map(|&c| (Self::luminance(c) - mean).powi(2))
            .sum::<f64>()
            / n
    }

    pub fn count(&self, pred: impl Fn([u8; 3]) -> bool) -> usize {
        self.rgb.iter().filter(|&&c| pred(c)).count()
    }
}
