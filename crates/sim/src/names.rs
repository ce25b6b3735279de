//! Chinese place, person and business names of a Hubei county (咸宁), so that generated data reads
//! like a real marketing extract: 横沟桥供电所, 10kV 桂花线, 桂花村3组台区, 咸宁市鑫达纺织有限公司.

use crate::hash::pick;

/// Prefecture-level city of every address.
pub const CITY: &str = "咸宁市";

/// The company the stations belong to.
pub const COMPANY: &str = "国网咸宁供电公司";

/// Towns (乡镇) by county of 咸宁: each station serves one town.
const TOWNS: &[(&str, &str)] = &[
    ("咸安区", "横沟桥镇"),
    ("咸安区", "贺胜桥镇"),
    ("咸安区", "双溪桥镇"),
    ("咸安区", "马桥镇"),
    ("咸安区", "桂花镇"),
    ("咸安区", "高桥镇"),
    ("咸安区", "向阳湖镇"),
    ("咸安区", "官埠桥镇"),
    ("咸安区", "汀泗桥镇"),
    ("咸安区", "大幕乡"),
    ("嘉鱼县", "鱼岳镇"),
    ("嘉鱼县", "新街镇"),
    ("嘉鱼县", "渡普镇"),
    ("嘉鱼县", "潘家湾镇"),
    ("嘉鱼县", "簰洲湾镇"),
    ("嘉鱼县", "官桥镇"),
    ("嘉鱼县", "高铁岭镇"),
    ("赤壁市", "赵李桥镇"),
    ("赤壁市", "茶庵岭镇"),
    ("赤壁市", "车埠镇"),
    ("赤壁市", "赤壁镇"),
    ("赤壁市", "柳山湖镇"),
    ("赤壁市", "神山镇"),
    ("赤壁市", "中伙铺镇"),
    ("赤壁市", "官塘驿镇"),
    ("赤壁市", "新店镇"),
    ("通城县", "隽水镇"),
    ("通城县", "麦市镇"),
    ("通城县", "塘湖镇"),
    ("通城县", "关刀镇"),
    ("通城县", "沙堆镇"),
    ("通城县", "五里镇"),
    ("通城县", "石南镇"),
    ("通城县", "北港镇"),
    ("通城县", "马港镇"),
    ("崇阳县", "天城镇"),
    ("崇阳县", "沙坪镇"),
    ("崇阳县", "石城镇"),
    ("崇阳县", "桂花泉镇"),
    ("崇阳县", "白霓镇"),
    ("崇阳县", "路口镇"),
    ("崇阳县", "金塘镇"),
    ("崇阳县", "青山镇"),
    ("通山县", "通羊镇"),
    ("通山县", "南林桥镇"),
    ("通山县", "黄沙铺镇"),
    ("通山县", "厦铺镇"),
    ("通山县", "九宫山镇"),
    ("通山县", "闯王镇"),
    ("通山县", "洪港镇"),
    ("通山县", "大畈镇"),
];

const ORDINALS: &[&str] = &["", "二", "三", "四", "五", "六", "七", "八", "九", "十"];

/// The county and town of station `i`, and the station's name (横沟桥供电所). Beyond the list, a
/// town gets a second station (横沟桥第二供电所).
pub fn station(i: usize) -> (String, String, String) {
    let (county, town) = TOWNS[i % TOWNS.len()];
    let round = i / TOWNS.len();
    let short = town.trim_end_matches(['镇', '乡']);
    let name = if round == 0 {
        format!("{short}供电所")
    } else {
        format!("{short}第{}供电所", ORDINALS.get(round).copied().unwrap_or("新"))
    };
    (county.to_string(), town.to_string(), name)
}

const LINE_WORDS: &[&str] = &[
    "桂花", "樟树", "新华", "向阳", "城东", "城西", "工业", "农场", "红旗", "东风", "胜利", "幸福", "团结",
    "光明", "青龙", "白鹤", "金桥", "玉泉", "温泉", "洪山", "茶场", "林场", "陶瓷", "纺织", "石材", "竹林",
    "松柏", "枫林", "柳湖", "荷塘", "凤凰", "龙潭", "望山", "双港", "三门", "四方", "五里", "六合", "七里",
    "八一", "九龙", "十字", "南川", "北岭", "东港", "西山", "朝阳", "星火", "黄龙", "青石", "白沙", "金竹",
    "银杏", "桃园", "李家", "杨堤", "梅岭", "兰溪", "菊湾", "芦洲", "潘湾", "太平", "长安", "永安", "兴隆",
    "丰收", "和平", "建设", "前进", "红星", "新建", "新农",
];

/// A feeder's name: `10kV 桂花线`; the n-th reuse of a word becomes `桂花二回线`.
pub fn feeder(i: usize) -> String {
    let word = LINE_WORDS[i % LINE_WORDS.len()];
    let round = i / LINE_WORDS.len();
    if round == 0 {
        format!("10kV {word}线")
    } else {
        format!("10kV {word}{}回线", ORDINALS.get(round).copied().filter(|o| !o.is_empty()).unwrap_or("新"))
    }
}

const VILLAGE_HEADS: &[&str] = &[
    "桂花", "白沙", "石桥", "新塘", "刘家", "张家", "王家", "陈家", "黄土", "青山", "双龙", "杨柳", "枫树",
    "柏树", "大屋", "高桥", "马鞍", "龙潭", "荷花", "金竹", "钱冲", "汪家", "程家", "熊家", "鲁家", "甘棠",
    "杨林", "洪港", "朱砂", "太乙", "白岩", "南山", "东源", "西湖", "北山", "中洲",
];

/// A village name (桂花村), distinct for the first few hundred villages.
pub fn village(i: usize) -> String {
    let head = VILLAGE_HEADS[i % VILLAGE_HEADS.len()];
    let round = i / VILLAGE_HEADS.len();
    if round == 0 {
        format!("{head}村")
    } else {
        format!("{head}{}村", ORDINALS.get(round % 10).copied().filter(|o| !o.is_empty()).unwrap_or("新"))
    }
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何",
    "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田",
    "董", "袁", "潘", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "任", "沈", "姚", "卢",
    "姜", "钟", "谭", "陆", "汪", "范", "金", "石", "廖", "贾", "夏", "付", "方", "邹", "熊", "秦", "江",
    "雷", "龙", "陶", "贺", "毛", "龚", "万", "严", "覃", "向", "汤", "舒",
];

const GIVEN: &[&str] = &[
    "建国", "国强", "秀英", "桂英", "玉兰", "志刚", "明", "伟", "芳", "娟", "敏", "静", "丽", "强", "磊",
    "军", "洋", "勇", "艳", "杰", "娜", "涛", "超", "明辉", "红梅", "春华", "德胜", "金山", "水生", "冬梅",
    "小红", "海燕", "晓东", "文华", "世平", "家旺", "桂兰", "凤英", "建华", "建平", "志强", "卫东", "红兵",
    "爱华", "秋菊", "月娥", "长林", "新民", "少华", "俊", "浩", "宇", "欣怡", "子涵", "雨轩", "思远", "德明",
    "光荣", "福生", "满堂", "国庆", "建军", "振华", "先进", "双喜",
];

/// A person's name (王建国) from a hash.
pub fn person(h: u64) -> String {
    format!("{}{}", pick(SURNAMES, h), pick(GIVEN, h >> 20))
}

const BRANDS: &[&str] = &[
    "鑫达", "华泰", "宏远", "恒通", "金鼎", "瑞丰", "永盛", "天成", "富民", "兴旺", "楚天", "鄂南", "香城",
    "温泉", "桂乡", "宏发", "长江", "嘉禾", "金源", "众诚", "隆昌", "汇丰", "信和", "联创",
];

const INDUSTRIES: &[&str] = &[
    "纺织",
    "机械制造",
    "建材",
    "食品",
    "竹木制品",
    "陶瓷",
    "石材加工",
    "电子科技",
    "苎麻纺织",
    "茶业",
    "塑料制品",
    "汽车配件",
    "粮油加工",
    "饲料",
    "包装材料",
    "新型材料",
    "铸造",
    "水泥制品",
];

const SHOPS: &[&str] = &[
    "超市",
    "餐馆",
    "五金店",
    "农资店",
    "理发店",
    "诊所",
    "宾馆",
    "快递站",
    "药店",
    "汽修店",
    "茶楼",
    "粮油店",
    "服装店",
    "建材店",
    "加油站",
    "棋牌室",
    "烟酒店",
    "米粉馆",
];

/// A manufacturer (咸宁市鑫达纺织有限公司).
pub fn company(h: u64) -> String {
    format!("{CITY}{}{}有限公司", pick(BRANDS, h), pick(INDUSTRIES, h >> 16))
}

/// A shop or small business of a town (横沟桥镇王记超市).
pub fn shop(town: &str, h: u64) -> String {
    if h.is_multiple_of(3) {
        format!("{town}{}{}", pick(BRANDS, h >> 8), pick(SHOPS, h >> 24))
    } else {
        format!("{town}{}记{}", pick(SURNAMES, h >> 8), pick(SHOPS, h >> 24))
    }
}

/// A farm, pumping station or cooperative of a village (桂花村排灌站).
pub fn farm(town: &str, village: &str, h: u64) -> String {
    match h % 4 {
        0 => format!("{village}排灌站"),
        1 => format!("{town}{}养殖场", pick(BRANDS, h >> 8)),
        2 => format!("{town}{}种植专业合作社", pick(BRANDS, h >> 8)),
        _ => format!("{village}{}(农灌)", person(h >> 8)),
    }
}

/// A public body or other user (桂花村村民委员会).
pub fn other_user(town: &str, village: &str, h: u64) -> String {
    match h % 5 {
        0 => format!("{village}村民委员会"),
        1 => format!("{town}中心小学"),
        2 => format!("{town}卫生院"),
        3 => format!("{village}路灯"),
        _ => format!("{village}通信基站"),
    }
}

/// A mobile phone number (139xxxxxxxx).
pub fn phone(h: u64) -> String {
    const PREFIXES: &[&str] = &[
        "139", "138", "137", "136", "135", "159", "158", "187", "133", "153", "180", "189", "130", "131",
        "186", "177",
    ];
    format!("{}{:08}", pick(PREFIXES, h), (h >> 12) % 100_000_000)
}
