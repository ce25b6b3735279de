//! The fixed parts of the package: content types, relationships, styles, settings, fonts, footer
//! and document properties.

use std::fmt::Write;

use super::xml::esc;

pub(crate) const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";

const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// Page geometry in twips: A4 portrait, 2.5 cm left and right, 2.54 cm top and bottom.
pub(crate) const PAGE_WIDTH: u32 = 11906;
pub(crate) const PAGE_HEIGHT: u32 = 16838;
pub(crate) const MARGIN_LEFT: u32 = 1418;
pub(crate) const MARGIN_RIGHT: u32 = 1418;
pub(crate) const MARGIN_TOP: u32 = 1440;
pub(crate) const MARGIN_BOTTOM: u32 = 1440;
/// The width tables and charts must fit in.
#[cfg(test)]
pub(crate) const TEXT_WIDTH: u32 = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT;

/// `[Content_Types].xml` for a document with `charts` chart parts.
pub(crate) fn content_types(charts: usize) -> String {
    let mut x = String::from(XML_DECL);
    x.push_str(concat!(
        r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">"#,
        r#"<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>"#,
        r#"<Default Extension="xml" ContentType="application/xml"/>"#,
        r#"<Default Extension="xlsx" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"/>"#,
        r#"<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>"#,
        r#"<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>"#,
        r#"<Override PartName="/word/settings.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/>"#,
        r#"<Override PartName="/word/fontTable.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.fontTable+xml"/>"#,
        r#"<Override PartName="/word/footer1.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"/>"#,
        r#"<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>"#,
        r#"<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>"#,
    ));
    for i in 1..=charts {
        let _ = write!(
            x,
            r#"<Override PartName="/word/charts/chart{i}.xml" ContentType="application/vnd.openxmlformats-officedocument.drawingml.chart+xml"/>"#
        );
    }
    x.push_str("</Types>");
    x
}

/// `_rels/.rels`.
pub(crate) fn package_rels() -> String {
    format!(
        concat!(
            "{decl}",
            r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
            r#"<Relationship Id="rId1" Type="{rel}/officeDocument" Target="word/document.xml"/>"#,
            r#"<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>"#,
            r#"<Relationship Id="rId3" Type="{rel}/extended-properties" Target="docProps/app.xml"/>"#,
            "</Relationships>"
        ),
        decl = XML_DECL,
        rel = REL
    )
}

/// The relationship id of the footer in `word/_rels/document.xml.rels`.
pub(crate) const FOOTER_RID: &str = "rId4";

/// The relationship id of chart `i` (from 1).
pub(crate) fn chart_rid(i: usize) -> String {
    format!("rId{}", 10 + i)
}

/// `word/_rels/document.xml.rels`.
pub(crate) fn document_rels(charts: usize) -> String {
    let mut x = String::from(XML_DECL);
    let _ = write!(
        x,
        concat!(
            r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
            r#"<Relationship Id="rId1" Type="{rel}/styles" Target="styles.xml"/>"#,
            r#"<Relationship Id="rId2" Type="{rel}/settings" Target="settings.xml"/>"#,
            r#"<Relationship Id="rId3" Type="{rel}/fontTable" Target="fontTable.xml"/>"#,
            r#"<Relationship Id="{footer}" Type="{rel}/footer" Target="footer1.xml"/>"#
        ),
        rel = REL,
        footer = FOOTER_RID
    );
    for i in 1..=charts {
        let _ = write!(
            x,
            r#"<Relationship Id="{}" Type="{REL}/chart" Target="charts/chart{i}.xml"/>"#,
            chart_rid(i)
        );
    }
    x.push_str("</Relationships>");
    x
}

/// The name of the workbook embedded with chart `i`.
pub(crate) fn chart_workbook_name(i: usize) -> String {
    format!("Microsoft_Excel_Worksheet{i}.xlsx")
}

/// `word/charts/_rels/chartN.xml.rels`: the embedded workbook.
pub(crate) fn chart_rels(i: usize) -> String {
    format!(
        concat!(
            "{decl}",
            r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
            r#"<Relationship Id="rId1" Type="{rel}/package" Target="../embeddings/{name}"/>"#,
            "</Relationships>"
        ),
        decl = XML_DECL,
        rel = REL,
        name = chart_workbook_name(i)
    )
}

/// The namespaces of `word/document.xml`.
pub(crate) const DOCUMENT_OPEN: &str = concat!(
    r#"<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" "#,
    r#"xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" "#,
    r#"xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" "#,
    r#"xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" "#,
    r#"xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart"><w:body>"#
);

/// The section properties closing the body: A4 portrait, margins, the footer.
pub(crate) fn section() -> String {
    format!(
        concat!(
            r#"<w:sectPr><w:footerReference w:type="default" r:id="{footer}"/>"#,
            r#"<w:pgSz w:w="{w}" w:h="{h}"/>"#,
            r#"<w:pgMar w:top="{top}" w:right="{right}" w:bottom="{bottom}" w:left="{left}" w:header="851" w:footer="851" w:gutter="0"/>"#,
            r#"<w:cols w:space="425"/></w:sectPr></w:body></w:document>"#
        ),
        footer = FOOTER_RID,
        w = PAGE_WIDTH,
        h = PAGE_HEIGHT,
        top = MARGIN_TOP,
        right = MARGIN_RIGHT,
        bottom = MARGIN_BOTTOM,
        left = MARGIN_LEFT,
    )
}

/// A simple field (`PAGE`, `NUMPAGES`) with `1` shown until Word lays the pages out.
fn field(instruction: &str) -> String {
    format!(
        concat!(
            r#"<w:r><w:fldChar w:fldCharType="begin"/></w:r>"#,
            r#"<w:r><w:instrText xml:space="preserve"> {} </w:instrText></w:r>"#,
            r#"<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>1</w:t></w:r>"#,
            r#"<w:r><w:fldChar w:fldCharType="end"/></w:r>"#
        ),
        instruction
    )
}

/// `word/footer1.xml`: 「第 X 页 共 Y 页」 centred.
pub(crate) fn footer() -> String {
    format!(
        concat!(
            "{decl}",
            r#"<w:ftr xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" "#,
            r#"xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">"#,
            r#"<w:p><w:pPr><w:pStyle w:val="Footer"/><w:jc w:val="center"/></w:pPr>"#,
            r#"<w:r><w:t xml:space="preserve">第 </w:t></w:r>{page}"#,
            r#"<w:r><w:t xml:space="preserve"> 页 共 </w:t></w:r>{pages}"#,
            r#"<w:r><w:t xml:space="preserve"> 页</w:t></w:r></w:p></w:ftr>"#
        ),
        decl = XML_DECL,
        page = field("PAGE"),
        pages = field("NUMPAGES"),
    )
}

/// Run properties naming the Latin and the East-Asian face.
fn fonts(latin: &str, east_asian: &str) -> String {
    format!(r#"<w:rFonts w:ascii="{latin}" w:hAnsi="{latin}" w:eastAsia="{east_asian}" w:cs="{latin}"/>"#)
}

/// `word/styles.xml`: 宋体 小四 body, 黑体 三号 and 楷体 四号 headings (built-in `heading 1/2`
/// with outline levels, so the navigation pane lists them), captions, table text, footer.
pub(crate) fn styles() -> String {
    let song = fonts("Times New Roman", "宋体");
    let hei = fonts("Times New Roman", "黑体");
    let kai = fonts("Times New Roman", "楷体");
    let mut x = String::from(XML_DECL);
    let _ = write!(
        x,
        concat!(
            r#"<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">"#,
            r#"<w:docDefaults><w:rPrDefault><w:rPr>{song}<w:kern w:val="2"/><w:sz w:val="24"/><w:szCs w:val="24"/>"#,
            r#"<w:lang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/></w:rPr></w:rPrDefault>"#,
            r#"<w:pPrDefault><w:pPr><w:spacing w:after="0" w:line="240" w:lineRule="auto"/></w:pPr></w:pPrDefault>"#,
            "</w:docDefaults>",
            // Normal
            r#"<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/><w:qFormat/>"#,
            r#"<w:pPr><w:widowControl w:val="0"/><w:jc w:val="both"/></w:pPr></w:style>"#,
            // Body text: 1.5 lines, first line indented two characters
            r#"<w:style w:type="paragraph" w:styleId="BodyText"><w:name w:val="Body Text"/><w:basedOn w:val="Normal"/><w:qFormat/>"#,
            r#"<w:pPr><w:spacing w:after="0" w:line="360" w:lineRule="auto"/><w:ind w:firstLineChars="200" w:firstLine="480"/></w:pPr></w:style>"#,
            // Title
            r#"<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/><w:basedOn w:val="Normal"/><w:next w:val="Subtitle"/><w:qFormat/>"#,
            r#"<w:pPr><w:keepNext/><w:spacing w:before="240" w:after="120" w:line="240" w:lineRule="auto"/><w:jc w:val="center"/><w:outlineLvl w:val="9"/></w:pPr>"#,
            r#"<w:rPr>{hei}<w:b/><w:bCs/><w:sz w:val="44"/><w:szCs w:val="44"/></w:rPr></w:style>"#,
            // Subtitle
            r#"<w:style w:type="paragraph" w:styleId="Subtitle"><w:name w:val="Subtitle"/><w:basedOn w:val="Normal"/><w:next w:val="BodyText"/><w:qFormat/>"#,
            r#"<w:pPr><w:spacing w:before="0" w:after="360"/><w:jc w:val="center"/></w:pPr>"#,
            r#"<w:rPr>{kai}<w:sz w:val="28"/><w:szCs w:val="28"/></w:rPr></w:style>"#,
            // Heading 1
            r#"<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:basedOn w:val="Normal"/><w:next w:val="BodyText"/><w:uiPriority w:val="9"/><w:qFormat/>"#,
            r#"<w:pPr><w:keepNext/><w:keepLines/><w:spacing w:before="240" w:after="120" w:line="360" w:lineRule="auto"/>"#,
            r#"<w:ind w:firstLineChars="200" w:firstLine="640"/><w:jc w:val="left"/><w:outlineLvl w:val="0"/></w:pPr>"#,
            r#"<w:rPr>{hei}<w:kern w:val="44"/><w:sz w:val="32"/><w:szCs w:val="32"/></w:rPr></w:style>"#,
            // Heading 2
            r#"<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/><w:basedOn w:val="Normal"/><w:next w:val="BodyText"/><w:uiPriority w:val="9"/><w:unhideWhenUsed/><w:qFormat/>"#,
            r#"<w:pPr><w:keepNext/><w:keepLines/><w:spacing w:before="120" w:after="0" w:line="360" w:lineRule="auto"/>"#,
            r#"<w:ind w:firstLineChars="200" w:firstLine="560"/><w:jc w:val="left"/><w:outlineLvl w:val="1"/></w:pPr>"#,
            r#"<w:rPr>{kai}<w:b/><w:bCs/><w:sz w:val="28"/><w:szCs w:val="28"/></w:rPr></w:style>"#,
            // Caption (above tables, below figures)
            r#"<w:style w:type="paragraph" w:styleId="Caption"><w:name w:val="caption"/><w:basedOn w:val="Normal"/><w:next w:val="BodyText"/><w:uiPriority w:val="35"/><w:unhideWhenUsed/><w:qFormat/>"#,
            r#"<w:pPr><w:keepNext/><w:spacing w:before="120" w:after="60"/><w:jc w:val="center"/></w:pPr>"#,
            r#"<w:rPr>{hei}<w:sz w:val="21"/><w:szCs w:val="21"/></w:rPr></w:style>"#,
            // Figure paragraph (holds a chart; stays with its caption)
            r#"<w:style w:type="paragraph" w:customStyle="1" w:styleId="Figure"><w:name w:val="图表段落"/><w:basedOn w:val="Normal"/><w:qFormat/>"#,
            r#"<w:pPr><w:keepNext/><w:spacing w:before="120"/><w:jc w:val="center"/></w:pPr></w:style>"#,
            // Table text
            r#"<w:style w:type="paragraph" w:customStyle="1" w:styleId="TableText"><w:name w:val="表格文字"/><w:basedOn w:val="Normal"/><w:qFormat/>"#,
            r#"<w:pPr><w:spacing w:after="0" w:line="240" w:lineRule="auto"/><w:jc w:val="left"/></w:pPr>"#,
            r#"<w:rPr><w:sz w:val="21"/><w:szCs w:val="21"/></w:rPr></w:style>"#,
            // Closing lines (company and date, right-aligned)
            r#"<w:style w:type="paragraph" w:styleId="Closing"><w:name w:val="Closing"/><w:basedOn w:val="Normal"/>"#,
            r#"<w:pPr><w:spacing w:line="360" w:lineRule="auto"/><w:ind w:right="480"/><w:jc w:val="right"/></w:pPr></w:style>"#,
            // Footer
            r#"<w:style w:type="paragraph" w:styleId="Footer"><w:name w:val="footer"/><w:basedOn w:val="Normal"/><w:uiPriority w:val="99"/><w:unhideWhenUsed/>"#,
            r#"<w:pPr><w:tabs><w:tab w:val="center" w:pos="4153"/><w:tab w:val="right" w:pos="8306"/></w:tabs><w:snapToGrid w:val="0"/><w:jc w:val="center"/></w:pPr>"#,
            r#"<w:rPr><w:sz w:val="18"/><w:szCs w:val="18"/></w:rPr></w:style>"#,
            // Table grid
            r#"<w:style w:type="table" w:default="1" w:styleId="TableNormal"><w:name w:val="Normal Table"/><w:uiPriority w:val="99"/><w:semiHidden/><w:unhideWhenUsed/>"#,
            r#"<w:tblPr><w:tblInd w:w="0" w:type="dxa"/><w:tblCellMar><w:top w:w="0" w:type="dxa"/><w:left w:w="108" w:type="dxa"/>"#,
            r#"<w:bottom w:w="0" w:type="dxa"/><w:right w:w="108" w:type="dxa"/></w:tblCellMar></w:tblPr></w:style>"#,
            r#"<w:style w:type="table" w:styleId="TableGrid"><w:name w:val="Table Grid"/><w:basedOn w:val="TableNormal"/><w:uiPriority w:val="59"/>"#,
            r#"<w:pPr><w:spacing w:after="0" w:line="240" w:lineRule="auto"/></w:pPr>"#,
            r#"<w:tblPr><w:tblBorders><w:top w:val="single" w:sz="4" w:space="0" w:color="auto"/>"#,
            r#"<w:left w:val="single" w:sz="4" w:space="0" w:color="auto"/><w:bottom w:val="single" w:sz="4" w:space="0" w:color="auto"/>"#,
            r#"<w:right w:val="single" w:sz="4" w:space="0" w:color="auto"/><w:insideH w:val="single" w:sz="4" w:space="0" w:color="auto"/>"#,
            r#"<w:insideV w:val="single" w:sz="4" w:space="0" w:color="auto"/></w:tblBorders></w:tblPr></w:style>"#,
            "</w:styles>"
        ),
        song = song,
        hei = hei,
        kai = kai,
    );
    x
}

/// `word/settings.xml`: Word 2013+ layout, Chinese punctuation compression.
pub(crate) fn settings() -> String {
    format!(
        concat!(
            "{}",
            r#"<w:settings xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">"#,
            r#"<w:zoom w:percent="100"/><w:defaultTabStop w:val="420"/>"#,
            r#"<w:characterSpacingControl w:val="compressPunctuation"/>"#,
            r#"<w:compat><w:compatSetting w:name="compatibilityMode" w:uri="http://schemas.microsoft.com/office/word" w:val="15"/></w:compat>"#,
            r#"<w:themeFontLang w:val="en-US" w:eastAsia="zh-CN"/>"#,
            r#"<w:decimalSymbol w:val="."/><w:listSeparator w:val=","/></w:settings>"#
        ),
        XML_DECL
    )
}

/// `word/fontTable.xml`: the Chinese faces with their Latin names, so a system without the
/// Chinese names still finds them.
pub(crate) fn font_table() -> String {
    let mut x = String::from(XML_DECL);
    x.push_str(r#"<w:fonts xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">"#);
    x.push_str(concat!(
        r#"<w:font w:name="Times New Roman"><w:panose1 w:val="02020603050405020304"/><w:charset w:val="00"/>"#,
        r#"<w:family w:val="roman"/><w:pitch w:val="variable"/></w:font>"#
    ));
    for (name, alt, panose, family) in [
        ("宋体", "SimSun", "02010600030101010101", "auto"),
        ("黑体", "SimHei", "02010609060101010101", "modern"),
        ("楷体", "KaiTi", "02010609060101010101", "modern"),
    ] {
        let _ = write!(
            x,
            concat!(
                r#"<w:font w:name="{}"><w:altName w:val="{}"/><w:panose1 w:val="{}"/><w:charset w:val="86"/>"#,
                r#"<w:family w:val="{}"/><w:pitch w:val="variable"/></w:font>"#
            ),
            name, alt, panose, family
        );
    }
    x.push_str("</w:fonts>");
    x
}

/// `docProps/core.xml`.
pub(crate) fn core(title: &str, creator: &str, created: Option<String>) -> String {
    let mut x = String::from(XML_DECL);
    let _ = write!(
        x,
        concat!(
            r#"<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" "#,
            r#"xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" "#,
            r#"xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">"#,
            "<dc:title>{}</dc:title><dc:subject>现场营销稽查报告</dc:subject><dc:creator>{}</dc:creator>",
            "<cp:keywords>营销稽查</cp:keywords><cp:lastModifiedBy>{}</cp:lastModifiedBy>"
        ),
        esc(title),
        esc(creator),
        esc(creator)
    );
    if let Some(at) = created {
        let _ = write!(
            x,
            concat!(
                r#"<dcterms:created xsi:type="dcterms:W3CDTF">{at}</dcterms:created>"#,
                r#"<dcterms:modified xsi:type="dcterms:W3CDTF">{at}</dcterms:modified>"#
            ),
            at = at
        );
    }
    x.push_str("</cp:coreProperties>");
    x
}

/// `docProps/app.xml`.
pub(crate) fn app(company: &str) -> String {
    format!(
        concat!(
            "{}",
            r#"<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">"#,
            "<Application>Jicha</Application><Company>{}</Company></Properties>"
        ),
        XML_DECL,
        esc(company)
    )
}
