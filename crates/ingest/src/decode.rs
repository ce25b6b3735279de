//! Character encodings: UTF-8 (with or without BOM) or GB18030/GBK, told apart from the bytes.

use encoding_rs::{DecoderResult, GB18030};
use std::io::{self, Read};

/// The encoding a CSV file was found to be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8, a BOM skipped if present.
    Utf8,
    /// GB18030 (a superset of GBK and GB2312), as Chinese spreadsheet tools save by default.
    Gb18030,
}

/// Where the first byte that is valid in neither encoding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadBytes {
    /// 1-based line.
    pub line: u64,
    /// 1-based column (field number, counting commas outside quotes only roughly).
    pub column: usize,
}

/// How much of a file is looked at to choose its encoding.
pub const SAMPLE_BYTES: usize = 1 << 20;

/// Chooses the encoding from the first bytes of a file: UTF-8 when they are valid UTF-8 (a
/// character cut at the end of the sample is fine), else GB18030 when they decode cleanly as that,
/// else neither (with the place of the first bad byte).
pub fn detect(sample: &[u8]) -> Result<Encoding, BadBytes> {
    let body = sample.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(sample);
    match std::str::from_utf8(body) {
        Ok(_) => return Ok(Encoding::Utf8),
        Err(e) if e.error_len().is_none() => return Ok(Encoding::Utf8),
        Err(_) => {}
    }
    let mut decoder = GB18030.new_decoder_without_bom_handling();
    let mut out = vec![0u8; decoder.max_utf8_buffer_length(sample.len()).unwrap_or(sample.len() * 3 + 16)];
    let last = sample.len() < SAMPLE_BYTES;
    let (result, read, _) = decoder.decode_to_utf8_without_replacement(sample, &mut out, last);
    match result {
        DecoderResult::Malformed(bad, _) => {
            let at = read.saturating_sub(bad as usize);
            let utf8_bad = std::str::from_utf8(body).err().map(|e| e.valid_up_to()).unwrap_or(at);
            Err(place_of(body, utf8_bad.min(at)))
        }
        _ => Ok(Encoding::Gb18030),
    }
}

/// Line and field number of a byte offset.
pub fn place_of(bytes: &[u8], offset: usize) -> BadBytes {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() as u64 + 1;
    let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    let column = before[line_start..].iter().filter(|b| **b == b',').count() + 1;
    BadBytes { line, column }
}

/// Turns a GB18030 byte stream into UTF-8 as it is read; a malformed sequence is an
/// `InvalidData` error rather than a replacement character, so nothing is silently changed.
pub struct Gb18030Reader<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    input: Vec<u8>,
    start: usize,
    end: usize,
    output: Vec<u8>,
    out_start: usize,
    out_end: usize,
    eof: bool,
}

impl<R: Read> Gb18030Reader<R> {
    /// Wraps a reader.
    pub fn new(inner: R) -> Self {
        Gb18030Reader {
            inner,
            decoder: GB18030.new_decoder_without_bom_handling(),
            input: vec![0; 1 << 16],
            start: 0,
            end: 0,
            output: vec![0; (1 << 16) * 2 + 16],
            out_start: 0,
            out_end: 0,
            eof: false,
        }
    }
}

impl<R: Read> Read for Gb18030Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_start < self.out_end {
                let n = buf.len().min(self.out_end - self.out_start);
                buf[..n].copy_from_slice(&self.output[self.out_start..self.out_start + n]);
                self.out_start += n;
                return Ok(n);
            }
            if self.start == self.end && !self.eof {
                let n = self.inner.read(&mut self.input)?;
                self.start = 0;
                self.end = n;
                self.eof = n == 0;
            }
            if self.eof && self.start == self.end {
                // Flush whatever the decoder still holds (an incomplete trailing sequence).
                let (result, _, written) =
                    self.decoder.decode_to_utf8_without_replacement(&[], &mut self.output, true);
                if let DecoderResult::Malformed(..) = result {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "文件末尾的字节不是有效的 GB18030 / invalid GB18030 at end of file",
                    ));
                }
                if written == 0 {
                    return Ok(0);
                }
                self.out_start = 0;
                self.out_end = written;
                continue;
            }
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                &self.input[self.start..self.end],
                &mut self.output,
                false,
            );
            self.start += read;
            self.out_start = 0;
            self.out_end = written;
            if let DecoderResult::Malformed(..) = result {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "字节既不是 UTF-8 也不是 GB18030 / bytes are neither UTF-8 nor GB18030",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_utf8_from_gbk() {
        assert_eq!(detect("户号,户名\n1,张三\n".as_bytes()), Ok(Encoding::Utf8));
        assert_eq!(detect(b"\xEF\xBB\xBFa,b\n"), Ok(Encoding::Utf8));
        let (gbk, _, _) = GB18030.encode("户号,户名\n1,张三\n");
        assert_eq!(detect(&gbk), Ok(Encoding::Gb18030));
    }

    #[test]
    fn bytes_valid_in_neither_are_placed() {
        let bad = b"a,b\n1,\xFF\xFF\n";
        assert_eq!(detect(bad), Err(BadBytes { line: 2, column: 2 }));
    }

    #[test]
    fn gb18030_stream_decodes() {
        let (gbk, _, _) = GB18030.encode("户号,户名\n0012345678,张三\n");
        let mut s = String::new();
        Gb18030Reader::new(&gbk[..]).read_to_string(&mut s).unwrap();
        assert_eq!(s, "户号,户名\n0012345678,张三\n");
    }
}
