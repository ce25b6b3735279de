//! What can go wrong writing a document: always a file or folder the user can look at.

use std::path::PathBuf;

/// A document could not be written; the message names the file or folder, in Chinese and English.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The file could not be written or moved into place (no permission, disk full, open in
    /// Word/Excel on Windows).
    #[error(
        "无法写入文件 {}：{source}（请确认文件夹可写、文件未被 Word/Excel/WPS 打开）/ cannot write file {}: {source}",
        .path.display(), .path.display()
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The folder for the documents could not be created.
    #[error("无法创建文件夹 {}：{source} / cannot create folder {}: {source}", .path.display(), .path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The Word document could not be packaged.
    #[error("无法生成 Word 文档 {}：{source} / cannot build Word document {}: {source}", .path.display(), .path.display())]
    Docx {
        /// The document.
        path: PathBuf,
        /// Why.
        #[source]
        source: zip::result::ZipError,
    },
    /// The Excel workbook could not be built.
    #[error("无法生成 Excel 工作簿 {}：{source} / cannot build Excel workbook {}: {source}", .path.display(), .path.display())]
    Xlsx {
        /// The workbook.
        path: PathBuf,
        /// Why.
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
}
