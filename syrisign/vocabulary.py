"""What the default lexicon knows about the Saudi dictionary's words beyond their clips.

The clips of ``$SYRISIGN_DATA/esharah/words`` are labelled in Arabic only, and the dictionary app's
``synonyms.json`` lists the other written forms it signs with each clip. Here, written by hand for
SyriSign (the data are not copied):

- :data:`ESHARAH_ENGLISH`: an English gloss of each clip's word, the sense the dictionary signs
  (the text tower and the plan use it);
- :data:`SENSES`: clips whose label, read in a news text, would mostly mean something else; the
  entry gets the unambiguous written form instead (المدينة is "the city" in the news, the clip is
  Medina, so the entry is المدينة المنورة);
- :data:`DROPPED_FORMS`: synonym forms of the app that would sign the wrong word in the news
  (أسود is "black" far more often than "lions"; حال is "case" in في حال).
"""
from __future__ import annotations

ESHARAH_ENGLISH: dict[str, str] = {
    "إحتقار": "contempt", "اب": "father", "اتجاهات": "directions", "اخ": "brother", "اخت": "sister",
    "ارمل": "widower", "اسبوع": "week", "اسد": "lion", "اسرة": "family", "اسفل": "below", "اسمك": "your name",
    "اعزب": "single", "اعلى": "above", "الأذن": "ear", "الأنف": "nose", "الامارات": "the emirates",
    "الباحة": "al-baha", "البحرين": "bahrain", "التاريخ": "date", "الجلد": "skin", "الجوف": "al-jouf",
    "الحق": "truth", "الخريف": "autumn", "الربيع": "spring", "السعودية": "saudi arabia", "السلام": "peace",
    "الشتاء": "winter", "الشرقية": "eastern province", "الصيف": "summer", "العين": "eye", "الفهد": "cheetah",
    "القصيم": "qassim", "الكويت": "kuwait", "اللسان": "tongue", "المدينة": "medina", "ام": "mother",
    "امام": "in front of", "اين": "where", "تبوك": "tabuk", "تسكن": "live", "تعمل": "work", "ثقيل": "heavy",
    "جازان": "jazan", "جد": "grandfather", "جده": "grandmother", "جنوب": "south", "حائل": "hail",
    "حالك": "how are you", "حسد": "envy", "حلاق": "barber", "خطوبة": "engagement", "خفيف": "light",
    "خلف": "behind", "خياط": "tailor", "خيانه": "betrayal", "دقيقة": "minute", "ذكي": "clever",
    "رسام": "painter", "زواج": "marriage", "ساعة": "hour", "ستارة": "curtain", "سنة": "year", "شرق": "east",
    "شفقه": "pity", "شكرا": "thank you", "شمال": "north", "شهر": "month", "صبر": "patience", "صدق": "honesty",
    "طاولة": "table", "طباخ": "cook", "طلاق": "divorce", "طيار": "pilot", "عسير": "asir",
    "عليكم": "upon you", "عمان": "oman", "عمرك": "your age", "غدر": "treachery", "غرب": "west",
    "فلاح": "farmer", "قديم": "old", "قطر": "qatar", "قلب": "heart", "كم": "how many", "كنب": "sofa",
    "كيف": "how", "لوم": "blame", "ما": "what", "مزهرية": "vase", "مستشفى": "hospital", "معلم": "teacher",
    "مكانك": "your place", "مكة": "mecca", "مكيف": "air conditioner", "نجار": "carpenter", "نجران": "najran",
    "وقت": "time", "يبني": "build", "يختار": "choose", "يدخن": "smoke", "يدعم": "support", "يسار": "left",
    "يساعد": "help", "يستحم": "bathe", "يمين": "right", "ينادي": "call", "يوم": "day",
}

# clip label -> the written forms the entry is looked up by instead of the label
SENSES: dict[str, list[str]] = {
    "المدينة": ["المدينة المنورة"],  # in the news المدينة is "the city"
    "ما": ["ماذا"],  # in the news ما is mostly a relative or a negation, not the question "what?"
    "الشرقية": ["المنطقة الشرقية"],  # the Saudi province, not the adjective "eastern"
    "عمان": ["سلطنة عمان"],  # the clip is Oman; in Syrian news عمان is mostly Amman, Jordan's capital
}

# clip label -> synonym forms of the dictionary app left out
DROPPED_FORMS: dict[str, set[str]] = {
    "اسد": {"اسود", "أسود"},  # "black"
    "حالك": {"حال", "الحال"},  # في حال "in case", الحال "the situation"
}



# -- English senses for news text -------------------------------------------------------------------
# Written by hand for SyriSign's offline glossary (syrisign.translator.GlossaryTranslator), ahead of the
# sign-language glossaries, whose first sense is often not the news one (دمشق "syria", حملة "pregnant",
# تلقيح "pollination", عدة "waiting period", حمص "chickpea"). Proper nouns are kept as names: Syria's
# governorates and main towns, its neighbours and the Arab and other countries in the news, institutions;
# the days and the Levantine month names; and common news words. Keys are written forms (any clitic-free
# form the text front end reaches: the article is stripped like any other clitic).
_PLACES = {
    "سوريا": "syria", "سورية": "syria", "الجمهورية العربية السورية": "syrian arab republic", "دمشق": "damascus",
    "ريف دمشق": "damascus countryside", "حلب": "aleppo", "حمص": "homs", "حماة": "hama", "اللاذقية": "latakia",
    "طرطوس": "tartus", "إدلب": "idlib", "درعا": "daraa", "السويداء": "suwayda", "القنيطرة": "quneitra",
    "دير الزور": "deir ez-zor", "الرقة": "raqqa", "الحسكة": "hasakah", "القامشلي": "qamishli",
    "تدمر": "palmyra", "بانياس": "baniyas", "جبلة": "jableh", "منبج": "manbij", "البوكمال": "albukamal",
    "الميادين": "mayadin", "الغوطة": "ghouta", "دوما": "douma", "جرمانا": "jaramana", "الزبداني": "zabadani",
    "صيدنايا": "saydnaya", "معرة النعمان": "maarat al-numan", "سراقب": "saraqib", "عفرين": "afrin",
    "الجولان": "golan", "الفرات": "euphrates", "العاصي": "orontes", "بردى": "barada",
    "لبنان": "lebanon", "بيروت": "beirut", "الأردن": "jordan", "عمان": "amman", "العراق": "iraq",
    "بغداد": "baghdad", "تركيا": "turkey", "أنقرة": "ankara", "فلسطين": "palestine", "القدس": "jerusalem",
    "غزة": "gaza", "مصر": "egypt", "القاهرة": "cairo", "السعودية": "saudi arabia", "الرياض": "riyadh",
    "الإمارات": "emirates", "الكويت": "kuwait", "قطر": "qatar", "البحرين": "bahrain", "سلطنة عمان": "oman",
    "اليمن": "yemen", "ليبيا": "libya", "تونس": "tunisia", "الجزائر": "algeria", "المغرب": "morocco",
    "السودان": "sudan", "إيران": "iran", "روسيا": "russia", "موسكو": "moscow", "الصين": "china",
    "أمريكا": "america", "الولايات المتحدة": "united states", "واشنطن": "washington", "فرنسا": "france",
    "باريس": "paris", "ألمانيا": "germany", "بريطانيا": "britain", "لندن": "london", "أوروبا": "europe",
    "الاتحاد الأوروبي": "european union", "آسيا": "asia", "أفريقيا": "africa", "جنيف": "geneva",
    "الشرق الأوسط": "middle east", "الساحل": "coast", "البادية": "desert",
}
_NATIONALITIES = {
    "سوري": "syrian", "سورية": "syrian", "لبناني": "lebanese", "أردني": "jordanian", "عراقي": "iraqi",
    "تركي": "turkish", "فلسطيني": "palestinian", "مصري": "egyptian", "سعودي": "saudi", "روسي": "russian",
    "أمريكي": "american", "عربي": "arab", "عربية": "arab", "دولي": "international", "دولية": "international",
    "وطني": "national", "وطنية": "national", "عالمي": "world", "عالمية": "world", "آسيوي": "asian",
    "آسيوية": "asian",
}
_INSTITUTIONS = {
    "الأمم المتحدة": "united nations", "مجلس الأمن": "security council", "الهلال الأحمر": "red crescent",
    "الصليب الأحمر": "red cross", "منظمة الصحة العالمية": "world health organization",
    "الصحة العالمية": "world health organization", "اليونيسف": "unicef", "مجلس الشعب": "people's assembly",
    "مجلس الوزراء": "council of ministers", "رئاسة الجمهورية": "presidency", "رئيس الجمهورية": "president",
    "رئيس الوزراء": "prime minister", "وزارة الصحة": "ministry of health",
    "وزارة التربية": "ministry of education", "وزارة التعليم العالي": "ministry of higher education",
    "وزارة الخارجية": "ministry of foreign affairs", "وزير الخارجية": "foreign minister",
    "وزارة الداخلية": "ministry of interior", "وزارة الدفاع": "ministry of defence",
    "وزارة الزراعة": "ministry of agriculture", "وزارة التجارة": "ministry of trade",
    "وزارة الاقتصاد": "ministry of economy", "وزارة المالية": "ministry of finance",
    "وزارة الكهرباء": "ministry of electricity", "وزارة النقل": "ministry of transport",
    "المصرف المركزي": "central bank", "الأرصاد الجوية": "meteorology", "الدفاع المدني": "civil defence",
    "اللجنة العليا للانتخابات": "higher election committee", "جامعة دمشق": "damascus university",
    "جامعة حلب": "aleppo university", "سوق الهال": "wholesale market", "كأس العالم": "world cup",
    "كرة القدم": "football", "كرة السلة": "basketball", "الألعاب الآسيوية": "asian games",
}
_CALENDAR = {
    "الأحد": "sunday", "الاثنين": "monday", "الثلاثاء": "tuesday", "الأربعاء": "wednesday", "الخميس": "thursday",
    "الجمعة": "friday", "السبت": "saturday", "كانون الثاني": "january", "شباط": "february", "آذار": "march",
    "نيسان": "april", "أيار": "may", "حزيران": "june", "تموز": "july", "آب": "august", "أيلول": "september",
    "تشرين الأول": "october", "تشرين الثاني": "november", "كانون الأول": "december", "يناير": "january",
    "فبراير": "february", "مارس": "march", "أبريل": "april", "مايو": "may", "يونيو": "june", "يوليو": "july",
    "أغسطس": "august", "سبتمبر": "september", "أكتوبر": "october", "نوفمبر": "november", "ديسمبر": "december",
    "صباح": "morning", "مساء": "evening", "ظهر": "noon", "ليلة": "night", "أمس": "yesterday", "غدا": "tomorrow",
}
_NEWS_WORDS = {
    "حملة": "campaign", "حملات": "campaigns", "تلقيح": "vaccination", "لقاح": "vaccine", "لقاحات": "vaccines",
    "عدة": "several", "عدد": "number", "إصابة": "case", "إصابات": "cases", "وفاة": "death", "وفيات": "deaths",
    "مرض": "disease", "مريض": "patient", "مرضى": "patients", "دواء": "medicine", "أدوية": "medicines",
    "طبيب": "doctor", "أطباء": "doctors", "علاج": "treatment", "عملية": "operation", "عمليات": "operations",
    "إسعاف": "emergency", "رعاية": "care", "صحة": "health", "صحية": "health", "كوليرا": "cholera",
    "وزارة": "ministry", "وزير": "minister", "مدير": "director", "رئيس": "president", "حكومة": "government",
    "محافظة": "governorate", "محافظ": "governor", "مدينة": "city", "قرية": "village", "ريف": "countryside",
    "منطقة": "region", "طريق": "road", "جسر": "bridge", "مطار": "airport", "قطار": "train", "رحلة": "flight",
    "رحلات": "flights", "لاجئ": "refugee", "لاجئين": "refugees", "عودة": "return", "زيارة": "visit",
    "وفد": "delegation", "مواطن": "citizen", "مواطنين": "citizens", "مواطنون": "citizens", "شعب": "people",
    "انتخابات": "elections", "انتخاب": "election", "مرشح": "candidate", "ناخب": "voter", "صوت": "vote",
    "أصوات": "votes", "اقتراع": "ballot", "صناديق": "boxes", "نتائج": "results", "نسبة": "rate",
    "مشاركة": "participation", "فرز": "counting", "لجنة": "committee", "مجلس": "council",
    "سعر": "price", "أسعار": "prices", "ارتفاع": "rise", "انخفاض": "fall", "رفع": "raise", "خفض": "cut",
    "غلاء": "high prices", "راتب": "salary", "رواتب": "salaries", "سوق": "market", "أسواق": "markets",
    "خبز": "bread", "سكر": "sugar", "ذهب": "gold", "دولار": "dollar", "ليرة": "pound", "مازوت": "diesel",
    "بنزين": "petrol", "كهرباء": "electricity", "خضار": "vegetables", "محصول": "harvest", "زراعة": "agriculture",
    "موسم": "season", "إيجار": "rent", "إيجارات": "rents", "معيشة": "living", "صرف": "exchange",
    "طقس": "weather", "أمطار": "rain", "مطر": "rain", "ثلوج": "snow", "رياح": "winds", "عاصفة": "storm",
    "حرارة": "temperature", "درجات الحرارة": "temperatures", "درجة": "degree", "موجة": "wave",
    "غبار": "dust", "غبارية": "dust", "سماء": "sky", "صافية": "clear", "معتدل": "mild", "مرتفعات": "highlands",
    "فصل": "season", "تربية": "education", "تعليم": "education", "مدرسة": "school", "مدارس": "schools",
    "جامعة": "university", "طالب": "student", "طلاب": "students", "امتحان": "exam", "امتحانات": "exams",
    "شهادة": "certificate", "ثانوية": "secondary", "إعدادية": "preparatory", "درس": "lesson",
    "مكتبة": "library", "منتخب": "national team", "فريق": "team", "مباراة": "match", "لاعب": "player",
    "مدرب": "coach", "بطولة": "championship", "دوري": "league", "ملعب": "stadium", "هدف": "goal",
    "هدفين": "two goals", "ميدالية": "medal", "ذهبية": "gold", "تصفيات": "qualifiers", "شطرنج": "chess",
    "شباب": "youth", "افتتاح": "opening", "جديد": "new", "جديدة": "new", "قديم": "old", "قديمة": "old",
    "إعلان": "announcement", "يعلن": "announces", "تعلن": "announces", "أعلنت": "announced", "أعلن": "announced",
    "قال": "said", "يقول": "says", "ترميم": "restoration", "تأهيل": "rehabilitation", "صيانة": "maintenance",
    "إغلاق": "closure", "إطلاق": "launch", "شرطة": "police", "جيش": "army", "حرب": "war", "سلام": "peace",
    "زلزال": "earthquake", "أسرة": "family", "عائلة": "family", "عائلات": "families", "أطفال": "children",
    "طفل": "child", "أيتام": "orphans", "أرامل": "widows", "جمعية": "association", "حفل": "ceremony",
    "تكريم": "honouring", "قاعة": "hall", "بيت": "house", "جار": "neighbour", "جيران": "neighbours",
    "قصص": "stories", "حالات": "cases", "مراكز": "centres", "مركز": "centre", "قسم": "department",
    "مجانا": "free", "خلال": "during", "منذ": "since", "قبل": "before", "بعد": "after", "بين": "between",
    "في": "in", "من": "from", "إلى": "to", "على": "on", "عن": "about", "لدى": "at", "كل": "every",
    "نحو": "towards", "حول": "about", "ضد": "against", "مع": "with", "عند": "at", "أمام": "in front of",
}
NEWS_GLOSSARY: dict[str, str] = {**_PLACES, **_NATIONALITIES, **_INSTITUTIONS, **_CALENDAR, **_NEWS_WORDS}

__all__ = ["ESHARAH_ENGLISH", "SENSES", "DROPPED_FORMS", "NEWS_GLOSSARY"]
