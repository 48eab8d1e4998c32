"""Village notices as a district sends them, with exactly what the voice must be given.

Sixty-four notices of the kinds a district office sends (weather, fire, fraud, health, water,
power, traffic, elections, subsidies, village affairs), written for issue 16 with the codes and
symbols that used to be misread (licence plates, road and train numbers, 90后, room numbers,
service numbers, verification codes, 3#楼, ¥1,200元, document numbers) and polyphones in
context. ``spoken`` is the text shown for review, ``pinyin`` the syllables given to a pinyin
voice, both checked by hand syllable by syllable (现代汉语词典 readings, neutral tone 5, 一 and
不 as spoken).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice: ``id``, the ``text`` as written, ``spoken`` and ``pinyin`` as read."""

    id: str
    text: str
    spoken: str
    pinyin: str


NOTICES: list[Notice] = [
    Notice(
        "weather-blue-wind",
        "尧都区气象台2024年3月12日发布大风蓝色预警：预计今天下午到夜间有6~7级偏北风，阵风8级，请大家关好门窗，加固大棚。",
        "尧都区气象台二零二四年三月十二日发布大风蓝色预警：预计今天下午到夜间有六至七级偏北风，阵风八级，请大家关好门窗，加固大棚。",
        "yao2 du1 qu1 qi4 xiang4 tai2 er4 ling2 er4 si4 nian2 san1 yue4 shi2 er4 ri4 fa1 bu4 da4 feng1 lan2 se4 yu4 jing3： yu4 ji4 jin1 tian1 xia4 wu3 dao4 ye4 jian1 you3 liu4 zhi4 qi1 ji2 pian1 bei3 feng1， zhen4 feng1 ba1 ji2， qing3 da4 jia1 guan1 hao3 men2 chuang1， jia1 gu4 da4 peng2。",
    ),
    Notice(
        "weather-rainstorm",
        "受强降雨影响，明天8:00-20:00我区累计降水量将达50-80毫米，低洼地带的村民请提前转移到安全的地方。",
        "受强降雨影响，明天八点至二十点我区累计降水量将达五十至八十毫米，低洼地带的村民请提前转移到安全的地方。",
        "shou4 qiang2 jiang4 yu3 ying3 xiang3， ming2 tian1 ba1 dian3 zhi4 er4 shi2 dian3 wo3 qu1 lei3 ji4 jiang4 shui3 liang4 jiang1 da2 wu3 shi2 zhi4 ba1 shi2 hao2 mi3， di1 wa1 di4 dai4 de5 cun1 min2 qing3 ti2 qian2 zhuan3 yi2 dao4 an1 quan2 de5 di4 fang5。",
    ),
    Notice(
        "weather-heat",
        "今明两天最高气温37℃以上，请大家避开中午11点至下午3点下地干活，谨防中暑。",
        "今明两天最高气温三十七摄氏度以上，请大家避开中午十一点至下午三点下地干活，谨防中暑。",
        "jin1 ming2 liang3 tian1 zui4 gao1 qi4 wen1 san1 shi2 qi1 she4 shi4 du4 yi3 shang4， qing3 da4 jia1 bi4 kai1 zhong1 wu3 shi2 yi1 dian3 zhi4 xia4 wu3 san1 dian3 xia4 di4 gan4 huo2， jin3 fang2 zhong4 shu3。",
    ),
    Notice(
        "weather-frost",
        "今晚最低气温-6℃，还没有收完的白菜请及时覆盖，防止冻伤。",
        "今晚最低气温零下六摄氏度，还没有收完的白菜请及时覆盖，防止冻伤。",
        "jin1 wan3 zui4 di1 qi4 wen1 ling2 xia4 liu4 she4 shi4 du4， hai2 mei2 you3 shou1 wan2 de5 bai2 cai4 qing3 ji2 shi2 fu4 gai4， fang2 zhi3 dong4 shang1。",
    ),
    Notice(
        "weather-hail",
        "G5京昆高速临汾段今天午后可能出现冰雹，过往车辆请减速慢行，不要在桥下停车。",
        "吉五京昆高速临汾段今天午后可能出现冰雹，过往车辆请减速慢行，不要在桥下停车。",
        "ji2 wu3 jing1 kun1 gao1 su4 lin2 fen2 duan4 jin1 tian1 wu3 hou4 ke3 neng2 chu1 xian4 bing1 bao2， guo4 wang3 che1 liang4 qing3 jian3 su4 man4 xing2， bu2 yao4 zai4 qiao2 xia4 ting2 che1。",
    ),
    Notice(
        "weather-fog",
        "受大雾影响，G108国道和S221省道能见度不足50米，请驾驶员打开雾灯，保持车距。",
        "受大雾影响，吉幺零八国道和艾斯二二幺省道能见度不足五十米，请驾驶员打开雾灯，保持车距。",
        "shou4 da4 wu4 ying3 xiang3， ji2 yao1 ling2 ba1 guo2 dao4 he2 ai4 si1 er4 er4 yao1 sheng3 dao4 neng2 jian4 du4 bu4 zu2 wu3 shi2 mi3， qing3 jia4 shi3 yuan2 da3 kai1 wu4 deng1， bao3 chi2 che1 ju4。",
    ),
    Notice(
        "weather-snow",
        "明天有中到大雪，积雪深度可达5cm，请提前储备煤炭和粮食，老人和孩子尽量不要出门。",
        "明天有中到大雪，积雪深度可达五厘米，请提前储备煤炭和粮食，老人和孩子尽量不要出门。",
        "ming2 tian1 you3 zhong1 dao4 da4 xue3， ji1 xue3 shen1 du4 ke3 da2 wu3 li2 mi3， qing3 ti2 qian2 chu3 bei4 mei2 tan4 he2 liang2 shi5， lao3 ren2 he2 hai2 zi5 jin3 liang4 bu2 yao4 chu1 men2。",
    ),
    Notice(
        "weather-cold-wave",
        "山西省气象台发布寒潮橙色预警，48小时内气温将下降10℃以上，请注意防寒保暖。",
        "山西省气象台发布寒潮橙色预警，四十八小时内气温将下降十摄氏度以上，请注意防寒保暖。",
        "shan1 xi1 sheng3 qi4 xiang4 tai2 fa1 bu4 han2 chao2 cheng2 se4 yu4 jing3， si4 shi2 ba1 xiao3 shi2 nei4 qi4 wen1 jiang1 xia4 jiang4 shi2 she4 shi4 du4 yi3 shang4， qing3 zhu4 yi4 fang2 han2 bao3 nuan3。",
    ),
    Notice(
        "fire-season",
        "森林防火期从11月1日开始，到次年5月31日结束，进山人员严禁携带火种。",
        "森林防火期从十一月一日开始，到次年五月三十一日结束，进山人员严禁携带火种。",
        "sen1 lin2 fang2 huo3 qi1 cong2 shi2 yi1 yue4 yi1 ri4 kai1 shi3， dao4 ci4 nian2 wu3 yue4 san1 shi2 yi1 ri4 jie2 shu4， jin4 shan1 ren2 yuan2 yan2 jin4 xie2 dai4 huo3 zhong3。",
    ),
    Notice(
        "fire-straw",
        "严禁在田间地头焚烧秸秆，违者罚款¥500元，情节严重的依法处理。",
        "严禁在田间地头焚烧秸秆，违者罚款五百元，情节严重的依法处理。",
        "yan2 jin4 zai4 tian2 jian1 di4 tou2 fen2 shao1 jie1 gan3， wei2 zhe3 fa2 kuan3 wu3 bai3 yuan2， qing2 jie2 yan2 zhong4 de5 yi1 fa3 chu3 li3。",
    ),
    Notice(
        "fire-building",
        "3#楼2单元的住户请注意，楼道内不得堆放杂物，电动车不准进楼充电。",
        "三号楼二单元的住户请注意，楼道内不得堆放杂物，电动车不准进楼充电。",
        "san1 hao4 lou2 er4 dan1 yuan2 de5 zhu4 hu4 qing3 zhu4 yi4， lou2 dao4 nei4 bu4 de2 dui1 fang4 za2 wu4， dian4 dong4 che1 bu4 zhun3 jin4 lou2 chong1 dian4。",
    ),
    Notice(
        "fire-drill",
        "本周五上午10:30在村委会院内举行消防演练，请各户至少派1人参加。",
        "本周五上午十点三十分在村委会院内举行消防演练，请各户至少派一人参加。",
        "ben3 zhou1 wu3 shang4 wu3 shi2 dian3 san1 shi2 fen1 zai4 cun1 wei3 hui4 yuan4 nei4 ju3 xing2 xiao1 fang2 yan3 lian4， qing3 ge4 hu4 zhi4 shao3 pai4 yi4 ren2 can1 jia1。",
    ),
    Notice(
        "fire-extinguisher",
        "每户发放1具4kg干粉灭火器，请到村委会101室领取，领取时请带好户口本。",
        "每户发放一具四公斤干粉灭火器，请到村委会幺零幺室领取，领取时请带好户口本。",
        "mei3 hu4 fa1 fang4 yi2 ju4 si4 gong1 jin1 gan1 fen3 mie4 huo3 qi4， qing3 dao4 cun1 wei3 hui4 yao1 ling2 yao1 shi4 ling3 qu3， ling3 qu3 shi2 qing3 dai4 hao3 hu4 kou3 ben3。",
    ),
    Notice(
        "fire-gas",
        "使用燃气时人不要离开，燃气软管要2年更换一次，闻到异味请拨打119或96777。",
        "使用燃气时人不要离开，燃气软管要两年更换一次，闻到异味请拨打幺幺九或九六七七七。",
        "shi3 yong4 ran2 qi4 shi2 ren2 bu2 yao4 li2 kai1， ran2 qi4 ruan3 guan3 yao4 liang3 nian2 geng1 huan4 yi2 ci4， wen2 dao4 yi4 wei4 qing3 bo1 da3 yao1 yao1 jiu3 huo4 jiu3 liu4 qi1 qi1 qi1。",
    ),
    Notice(
        "fire-kang",
        "冬季取暖请检查火炕和烟道，谨防一氧化碳中毒，发现有人头晕恶心要立即开窗通风。",
        "冬季取暖请检查火炕和烟道，谨防一氧化碳中毒，发现有人头晕恶心要立即开窗通风。",
        "dong1 ji4 qu3 nuan3 qing3 jian3 cha2 huo3 kang4 he2 yan1 dao4， jin3 fang2 yi4 yang3 hua4 tan4 zhong4 du2， fa1 xian4 you3 ren2 tou2 yun1 e3 xin5 yao4 li4 ji2 kai1 chuang1 tong1 feng1。",
    ),
    Notice(
        "fraud-bank",
        "近期有人冒充95588客服，以银行卡被冻结为由要求转账，请大家千万不要上当。",
        "近期有人冒充九五五八八客服，以银行卡被冻结为由要求转账，请大家千万不要上当。",
        "jin4 qi1 you3 ren2 mao4 chong1 jiu3 wu3 wu3 ba1 ba1 ke4 fu2， yi3 yin2 hang2 ka3 bei4 dong4 jie2 wei2 you2 yao1 qiu2 zhuan3 zhang4， qing3 da4 jia1 qian1 wan4 bu2 yao4 shang4 dang4。",
    ),
    Notice(
        "fraud-code",
        "任何人向你索要验证码123456这样的短信内容，都是骗子，请不要告诉别人。",
        "任何人向你索要验证码幺二三四五六这样的短信内容，都是骗子，请不要告诉别人。",
        "ren4 he2 ren2 xiang4 ni3 suo3 yao4 yan4 zheng4 ma3 yao1 er4 san1 si4 wu3 liu4 zhe4 yang4 de5 duan3 xin4 nei4 rong2， dou1 shi4 pian4 zi5， qing3 bu2 yao4 gao4 su5 bie2 ren2。",
    ),
    Notice(
        "fraud-subsidy",
        "接到自称社保局工作人员的电话，说要退还医保费，让你扫码的，一律是诈骗。",
        "接到自称社保局工作人员的电话，说要退还医保费，让你扫码的，一律是诈骗。",
        "jie1 dao4 zi4 cheng1 she4 bao3 ju2 gong1 zuo4 ren2 yuan2 de5 dian4 hua4， shuo1 yao4 tui4 huan2 yi1 bao3 fei4， rang4 ni3 sao3 ma3 de5， yi2 lü4 shi4 zha4 pian4。",
    ),
    Notice(
        "fraud-app",
        "请下载国家反诈中心APP，遇到可疑电话请拨打96110咨询。",
        "请下载国家反诈中心应用，遇到可疑电话请拨打九六幺幺零咨询。",
        "qing3 xia4 zai4 guo2 jia1 fan3 zha4 zhong1 xin1 ying4 yong4， yu4 dao4 ke3 yi2 dian4 hua4 qing3 bo1 da3 jiu3 liu4 yao1 yao1 ling2 zi1 xun2。",
    ),
    Notice(
        "fraud-tail",
        "你尾号3861的银行卡消费¥2,980元这类短信，不要回拨短信里的号码。",
        "你尾号三八六幺的银行卡消费两千九百八十元这类短信，不要回拨短信里的号码。",
        "ni3 wei3 hao4 san1 ba1 liu4 yao1 de5 yin2 hang2 ka3 xiao1 fei4 liang3 qian1 jiu3 bai3 ba1 shi2 yuan2 zhe4 lei4 duan3 xin4， bu2 yao4 hui2 bo1 duan3 xin4 li3 de5 hao4 ma3。",
    ),
    Notice(
        "fraud-parcel",
        "快递员说你的包裹丢了要理赔，让你加QQ或者微信的，一定要提高警惕。",
        "快递员说你的包裹丢了要理赔，让你加扣扣或者微信的，一定要提高警惕。",
        "kuai4 di4 yuan2 shuo1 ni3 de5 bao1 guo3 diu1 le5 yao4 li3 pei2， rang4 ni3 jia1 kou4 kou4 huo4 zhe3 wei1 xin4 de5， yi2 ding4 yao4 ti2 gao1 jing3 ti4。",
    ),
    Notice(
        "fraud-elderly",
        "有人在集市上推销便宜的保健品，声称能治百病，家里有老人的请看护好。",
        "有人在集市上推销便宜的保健品，声称能治百病，家里有老人的请看护好。",
        "you3 ren2 zai4 ji2 shi4 shang4 tui1 xiao1 pian2 yi5 de5 bao3 jian4 pin3， sheng1 cheng1 neng2 zhi4 bai3 bing4， jia1 li3 you3 lao3 ren2 de5 qing3 kan1 hu4 hao3。",
    ),
    Notice(
        "fraud-job",
        "网上刷单返利都是诈骗，90后、00后的年轻人尤其要当心。",
        "网上刷单返利都是诈骗，九零后、零零后的年轻人尤其要当心。",
        "wang3 shang4 shua1 dan1 fan3 li4 dou1 shi4 zha4 pian4， jiu3 ling2 hou4、 ling2 ling2 hou4 de5 nian2 qing1 ren2 you2 qi2 yao4 dang1 xin1。",
    ),
    Notice(
        "health-vaccine",
        "第2剂次疫苗接种时间为10月19日至10月25日，地点在镇卫生院2楼。",
        "第二剂次疫苗接种时间为十月十九日至十月二十五日，地点在镇卫生院二楼。",
        "di4 er4 ji4 ci4 yi4 miao2 jie1 zhong4 shi2 jian1 wei2 shi2 yue4 shi2 jiu3 ri4 zhi4 shi2 yue4 er4 shi2 wu3 ri4， di4 dian3 zai4 zhen4 wei4 sheng1 yuan4 er4 lou2。",
    ),
    Notice(
        "health-elderly",
        "65岁以上的老人可以免费体检，体检前一天晚上8点以后不要吃东西。",
        "六十五岁以上的老人可以免费体检，体检前一天晚上八点以后不要吃东西。",
        "liu4 shi2 wu3 sui4 yi3 shang4 de5 lao3 ren2 ke3 yi3 mian3 fei4 ti3 jian3， ti3 jian3 qian2 yi4 tian1 wan3 shang5 ba1 dian3 yi3 hou4 bu2 yao4 chi1 dong1 xi5。",
    ),
    Notice(
        "health-flu",
        "近期流感高发，出现发热、咳嗽等症状的，请戴好N95口罩到医院就诊。",
        "近期流感高发，出现发热、咳嗽等症状的，请戴好恩九五口罩到医院就诊。",
        "jin4 qi1 liu2 gan3 gao1 fa1， chu1 xian4 fa1 re4、 ke2 sou5 deng3 zheng4 zhuang4 de5， qing3 dai4 hao3 en1 jiu3 wu3 kou3 zhao4 dao4 yi1 yuan4 jiu4 zhen3。",
    ),
    Notice(
        "health-doctor",
        "县医院的大夫每周三上午到村卫生室坐诊，有需要的村民可以提前预约。",
        "县医院的大夫每周三上午到村卫生室坐诊，有需要的村民可以提前预约。",
        "xian4 yi1 yuan4 de5 dai4 fu5 mei3 zhou1 san1 shang4 wu3 dao4 cun1 wei4 sheng1 shi4 zuo4 zhen3， you3 xu1 yao4 de5 cun1 min2 ke3 yi3 ti2 qian2 yu4 yue1。",
    ),
    Notice(
        "health-blood",
        "欢迎18至55周岁的健康村民参加无偿献血，献血后请多喝水，注意休息。",
        "欢迎十八至五十五周岁的健康村民参加无偿献血，献血后请多喝水，注意休息。",
        "huan1 ying2 shi2 ba1 zhi4 wu3 shi2 wu3 zhou1 sui4 de5 jian4 kang1 cun1 min2 can1 jia1 wu2 chang2 xian4 xue4， xian4 xue4 hou4 qing3 duo1 he1 shui3， zhu4 yi4 xiu1 xi5。",
    ),
    Notice(
        "health-insurance",
        "2025年度城乡居民医保缴费标准为每人每年400元，请在12月31日前缴纳。",
        "二零二五年度城乡居民医保缴费标准为每人每年四百元，请在十二月三十一日前缴纳。",
        "er4 ling2 er4 wu3 nian2 du4 cheng2 xiang1 ju1 min2 yi1 bao3 jiao3 fei4 biao1 zhun3 wei2 mei3 ren2 mei3 nian2 si4 bai3 yuan2， qing3 zai4 shi2 er4 yue4 san1 shi2 yi1 ri4 qian2 jiao3 na4。",
    ),
    Notice(
        "health-rabies",
        "被狗咬伤后请在24小时内到县疾控中心接种狂犬疫苗，电话0357-2345678。",
        "被狗咬伤后请在二十四小时内到县疾控中心接种狂犬疫苗，电话零三五七，二三四五六七八。",
        "bei4 gou3 yao3 shang1 hou4 qing3 zai4 er4 shi2 si4 xiao3 shi2 nei4 dao4 xian4 ji2 kong4 zhong1 xin1 jie1 zhong4 kuang2 quan3 yi4 miao2， dian4 hua4 ling2 san1 wu3 qi1， er4 san1 si4 wu3 liu4 qi1 ba1。",
    ),
    Notice(
        "water-cut",
        "因管道维修，明天上午9点至下午5点全村停水，请大家提前储水。",
        "因管道维修，明天上午九点至下午五点全村停水，请大家提前储水。",
        "yin1 guan3 dao4 wei2 xiu1， ming2 tian1 shang4 wu3 jiu3 dian3 zhi4 xia4 wu3 wu3 dian3 quan2 cun1 ting2 shui3， qing3 da4 jia1 ti2 qian2 chu3 shui3。",
    ),
    Notice(
        "water-quality",
        "水质检测结果显示，村里的自来水符合国家标准，大家可以放心饮用。",
        "水质检测结果显示，村里的自来水符合国家标准，大家可以放心饮用。",
        "shui3 zhi4 jian3 ce4 jie2 guo3 xian3 shi4， cun1 li3 de5 zi4 lai2 shui3 fu2 he2 guo2 jia1 biao1 zhun3， da4 jia1 ke3 yi3 fang4 xin1 yin3 yong4。",
    ),
    Notice(
        "water-save",
        "今年春季干旱少雨，请大家节约用水，浇地要错峰，不要大水漫灌。",
        "今年春季干旱少雨，请大家节约用水，浇地要错峰，不要大水漫灌。",
        "jin1 nian2 chun1 ji4 gan1 han4 shao3 yu3， qing3 da4 jia1 jie2 yue1 yong4 shui3， jiao1 di4 yao4 cuo4 feng1， bu2 yao4 da4 shui3 man4 guan4。",
    ),
    Notice(
        "water-well",
        "村东头的机井已经修好了，从明天起恢复正常供水。",
        "村东头的机井已经修好了，从明天起恢复正常供水。",
        "cun1 dong1 tou2 de5 ji1 jing3 yi3 jing1 xiu1 hao3 le5， cong2 ming2 tian1 qi3 hui1 fu4 zheng4 chang2 gong1 shui3。",
    ),
    Notice(
        "water-river",
        "汛期河水上涨，请家长看管好孩子，严禁到河边、水库游泳。",
        "汛期河水上涨，请家长看管好孩子，严禁到河边、水库游泳。",
        "xun4 qi1 he2 shui3 shang4 zhang3， qing3 jia1 zhang3 kan1 guan3 hao3 hai2 zi5， yan2 jin4 dao4 he2 bian1、 shui3 ku4 you2 yong3。",
    ),
    Notice(
        "power-outage",
        "接供电公司通知，因10kV线路检修，5月20日7:00-18:00停电，请提前做好准备。",
        "接供电公司通知，因十千伏线路检修，五月二十日七点至十八点停电，请提前做好准备。",
        "jie1 gong1 dian4 gong1 si1 tong1 zhi1， yin1 shi2 qian1 fu2 xian4 lu4 jian3 xiu1， wu3 yue4 er4 shi2 ri4 qi1 dian3 zhi4 shi2 ba1 dian3 ting2 dian4， qing3 ti2 qian2 zuo4 hao3 zhun3 bei4。",
    ),
    Notice(
        "power-bill",
        "本月电费请在25号前通过手机缴纳，每度电0.477元，有疑问请拨打95598。",
        "本月电费请在二十五号前通过手机缴纳，每度电零点四七七元，有疑问请拨打九五五九八。",
        "ben3 yue4 dian4 fei4 qing3 zai4 er4 shi2 wu3 hao4 qian2 tong1 guo4 shou3 ji1 jiao3 na4， mei3 du4 dian4 ling2 dian3 si4 qi1 qi1 yuan2， you3 yi2 wen4 qing3 bo1 da3 jiu3 wu3 wu3 jiu3 ba1。",
    ),
    Notice(
        "power-wire",
        "雷雨天气不要在电线杆和大树下避雨，发现电线掉落请远离并报告。",
        "雷雨天气不要在电线杆和大树下避雨，发现电线掉落请远离并报告。",
        "lei2 yu3 tian1 qi4 bu2 yao4 zai4 dian4 xian4 gan1 he2 da4 shu4 xia4 bi4 yu3， fa1 xian4 dian4 xian4 diao4 luo4 qing3 yuan3 li2 bing4 bao4 gao4。",
    ),
    Notice(
        "power-load",
        "晚上用电负荷较大，请大家错峰使用空调和电暖器。",
        "晚上用电负荷较大，请大家错峰使用空调和电暖器。",
        "wan3 shang5 yong4 dian4 fu4 he4 jiao4 da4， qing3 da4 jia1 cuo4 feng1 shi3 yong4 kong1 tiao2 he2 dian4 nuan3 qi4。",
    ),
    Notice(
        "traffic-plate",
        "请车牌号为晋L·A1234的车主尽快挪车，您的车辆堵塞了消防通道。",
        "请车牌号为晋艾勒诶幺二三四的车主尽快挪车，您的车辆堵塞了消防通道。",
        "qing3 che1 pai2 hao4 wei2 jin4 ai4 le5 ei2 yao1 er4 san1 si4 de5 che1 zhu3 jin3 kuai4 nuo2 che1， nin2 de5 che1 liang4 du3 se4 le5 xiao1 fang2 tong1 dao4。",
    ),
    Notice(
        "traffic-train",
        "乘坐K1234次列车的旅客请注意，列车晚点约30分钟。",
        "乘坐开幺二三四次列车的旅客请注意，列车晚点约三十分钟。",
        "cheng2 zuo4 kai1 yao1 er4 san1 si4 ci4 lie4 che1 de5 lü3 ke4 qing3 zhu4 yi4， lie4 che1 wan3 dian3 yue1 san1 shi2 fen1 zhong1。",
    ),
    Notice(
        "traffic-school",
        "学校门口限速30km/h，接送孩子的家长请不要在路口停车。",
        "学校门口限速三十公里每小时，接送孩子的家长请不要在路口停车。",
        "xue2 xiao4 men2 kou3 xian4 su4 san1 shi2 gong1 li3 mei3 xiao3 shi2， jie1 song4 hai2 zi5 de5 jia1 zhang3 qing3 bu2 yao4 zai4 lu4 kou3 ting2 che1。",
    ),
    Notice(
        "traffic-belt",
        "乘车请系好安全带，不要乘坐超载车辆，不要酒后驾车。",
        "乘车请系好安全带，不要乘坐超载车辆，不要酒后驾车。",
        "cheng2 che1 qing3 ji4 hao3 an1 quan2 dai4， bu2 yao4 cheng2 zuo4 chao1 zai4 che1 liang4， bu2 yao4 jiu3 hou4 jia4 che1。",
    ),
    Notice(
        "traffic-road",
        "S221省道1.5公里处正在施工，车辆请绕行G108国道。",
        "艾斯二二幺省道一点五公里处正在施工，车辆请绕行吉幺零八国道。",
        "ai4 si1 er4 er4 yao1 sheng3 dao4 yi1 dian3 wu3 gong1 li3 chu4 zheng4 zai4 shi1 gong1， che1 liang4 qing3 rao4 xing2 ji2 yao1 ling2 ba1 guo2 dao4。",
    ),
    Notice(
        "traffic-bus",
        "8路和101路公交车从下周一起调整发车时间，首班车改为6:30。",
        "八路和一百零一路公交车从下周一起调整发车时间，首班车改为六点三十分。",
        "ba1 lu4 he2 yi4 bai3 ling2 yi1 lu4 gong1 jiao1 che1 cong2 xia4 zhou1 yi1 qi3 tiao2 zheng3 fa1 che1 shi2 jian1， shou3 ban1 che1 gai3 wei2 liu4 dian3 san1 shi2 fen1。",
    ),
    Notice(
        "traffic-license",
        "驾驶证到期的村民请到车管所3号窗口办理换证，咨询电话12123。",
        "驾驶证到期的村民请到车管所三号窗口办理换证，咨询电话幺二幺二三。",
        "jia4 shi3 zheng4 dao4 qi1 de5 cun1 min2 qing3 dao4 che1 guan3 suo3 san1 hao4 chuang1 kou3 ban4 li3 huan4 zheng4， zi1 xun2 dian4 hua4 yao1 er4 yao1 er4 san1。",
    ),
    Notice(
        "election-notice",
        "第十一届村民委员会选举将于2024年4月8日举行，年满18周岁的村民都有选举权。",
        "第十一届村民委员会选举将于二零二四年四月八日举行，年满十八周岁的村民都有选举权。",
        "di4 shi2 yi1 jie4 cun1 min2 wei3 yuan2 hui4 xuan3 ju3 jiang1 yu2 er4 ling2 er4 si4 nian2 si4 yue4 ba1 ri4 ju3 xing2， nian2 man3 shi2 ba1 zhou1 sui4 de5 cun1 min2 dou1 you3 xuan3 ju3 quan2。",
    ),
    Notice(
        "election-register",
        "选民登记时间为3月20日至3月25日，请大家带好身份证到村委会登记。",
        "选民登记时间为三月二十日至三月二十五日，请大家带好身份证到村委会登记。",
        "xuan3 min2 deng1 ji4 shi2 jian1 wei2 san1 yue4 er4 shi2 ri4 zhi4 san1 yue4 er4 shi2 wu3 ri4， qing3 da4 jia1 dai4 hao3 shen1 fen4 zheng4 dao4 cun1 wei3 hui4 deng1 ji4。",
    ),
    Notice(
        "election-vote",
        "投票时间为上午8:00到中午12:00，投票地点在村小学操场。",
        "投票时间为上午八点到中午十二点，投票地点在村小学操场。",
        "tou2 piao4 shi2 jian1 wei2 shang4 wu3 ba1 dian3 dao4 zhong1 wu3 shi2 er4 dian3， tou2 piao4 di4 dian3 zai4 cun1 xiao3 xue2 cao1 chang3。",
    ),
    Notice(
        "election-proxy",
        "因外出不能参加投票的，可以书面委托其他选民代为投票，每人最多接受3人委托。",
        "因外出不能参加投票的，可以书面委托其他选民代为投票，每人最多接受三人委托。",
        "yin1 wai4 chu1 bu4 neng2 can1 jia1 tou2 piao4 de5， ke3 yi3 shu1 mian4 wei3 tuo1 qi2 ta1 xuan3 min2 dai4 wei2 tou2 piao4， mei3 ren2 zui4 duo1 jie1 shou4 san1 ren2 wei3 tuo1。",
    ),
    Notice(
        "election-result",
        "经过计票，本次选举共发出选票1,236张，收回1,230张，选举有效。",
        "经过计票，本次选举共发出选票一千二百三十六张，收回一千二百三十张，选举有效。",
        "jing1 guo4 ji4 piao4， ben3 ci4 xuan3 ju3 gong4 fa1 chu1 xuan3 piao4 yi4 qian1 er4 bai3 san1 shi2 liu4 zhang1， shou1 hui2 yi4 qian1 er4 bai3 san1 shi2 zhang1， xuan3 ju3 you3 xiao4。",
    ),
    Notice(
        "subsidy-grain",
        "2024年耕地地力保护补贴每亩120元，已经打到一卡通上，请大家注意查收。",
        "二零二四年耕地地力保护补贴每亩一百二十元，已经打到一卡通上，请大家注意查收。",
        "er4 ling2 er4 si4 nian2 geng1 di4 di4 li4 bao3 hu4 bu3 tie1 mei3 mu3 yi4 bai3 er4 shi2 yuan2， yi3 jing1 da3 dao4 yi4 ka3 tong1 shang4， qing3 da4 jia1 zhu4 yi4 cha2 shou1。",
    ),
    Notice(
        "subsidy-elderly",
        "80周岁以上老人的高龄补贴每月100元，请子女帮老人核对银行卡信息。",
        "八十周岁以上老人的高龄补贴每月一百元，请子女帮老人核对银行卡信息。",
        "ba1 shi2 zhou1 sui4 yi3 shang4 lao3 ren2 de5 gao1 ling2 bu3 tie1 mei3 yue4 yi4 bai3 yuan2， qing3 zi3 nü3 bang1 lao3 ren2 he2 dui4 yin2 hang2 ka3 xin4 xi1。",
    ),
    Notice(
        "subsidy-machine",
        "购买农机的村民可以申请补贴，补贴比例最高30%，详情请咨询镇农技站。",
        "购买农机的村民可以申请补贴，补贴比例最高百分之三十，详情请咨询镇农技站。",
        "gou4 mai3 nong2 ji1 de5 cun1 min2 ke3 yi3 shen1 qing3 bu3 tie1， bu3 tie1 bi3 li4 zui4 gao1 bai3 fen1 zhi1 san1 shi2， xiang2 qing2 qing3 zi1 xun2 zhen4 nong2 ji4 zhan4。",
    ),
    Notice(
        "subsidy-housing",
        "危房改造补助标准为每户1.5万元，符合条件的请在7月1日前提出申请。",
        "危房改造补助标准为每户一点五万元，符合条件的请在七月一日前提出申请。",
        "wei1 fang2 gai3 zao4 bu3 zhu4 biao1 zhun3 wei2 mei3 hu4 yi1 dian3 wu3 wan4 yuan2， fu2 he2 tiao2 jian4 de5 qing3 zai4 qi1 yue4 yi1 ri4 qian2 ti2 chu1 shen1 qing3。",
    ),
    Notice(
        "subsidy-pig",
        "能繁母猪每头补贴¥100元，养殖户请到畜牧站登记。",
        "能繁母猪每头补贴一百元，养殖户请到畜牧站登记。",
        "neng2 fan2 mu3 zhu1 mei3 tou2 bu3 tie1 yi4 bai3 yuan2， yang3 zhi2 hu4 qing3 dao4 xu4 mu4 zhan4 deng1 ji4。",
    ),
    Notice(
        "subsidy-list",
        "公示名单张贴在村委会门口，公示期为7天，有异议的请向村干部反映。",
        "公示名单张贴在村委会门口，公示期为七天，有异议的请向村干部反映。",
        "gong1 shi4 ming2 dan1 zhang1 tie1 zai4 cun1 wei3 hui4 men2 kou3， gong1 shi4 qi1 wei2 qi1 tian1， you3 yi4 yi4 de5 qing3 xiang4 cun1 gan4 bu4 fan3 ying4。",
    ),
    Notice(
        "village-meeting",
        "今晚7点在村委会二楼会议室开会，请各户派一名代表参加，不得缺席。",
        "今晚七点在村委会二楼会议室开会，请各户派一名代表参加，不得缺席。",
        "jin1 wan3 qi1 dian3 zai4 cun1 wei3 hui4 er4 lou2 hui4 yi4 shi4 kai1 hui4， qing3 ge4 hu4 pai4 yi4 ming2 dai4 biao3 can1 jia1， bu4 de2 que1 xi2。",
    ),
    Notice(
        "village-clean",
        "本周六上午全村大扫除，请大家把房前屋后打扫得干干净净。",
        "本周六上午全村大扫除，请大家把房前屋后打扫得干干净净。",
        "ben3 zhou1 liu4 shang4 wu3 quan2 cun1 da4 sao3 chu2， qing3 da4 jia1 ba3 fang2 qian2 wu1 hou4 da3 sao3 de5 gan1 gan1 jing4 jing4。",
    ),
    Notice(
        "village-bank",
        "农业银行的工作人员明天来村里办理社保卡激活，请带好身份证。",
        "农业银行的工作人员明天来村里办理社保卡激活，请带好身份证。",
        "nong2 ye4 yin2 hang2 de5 gong1 zuo4 ren2 yuan2 ming2 tian1 lai2 cun1 li3 ban4 li3 she4 bao3 ka3 ji1 huo2， qing3 dai4 hao3 shen1 fen4 zheng4。",
    ),
    Notice(
        "village-lost",
        "谁家丢了一只羊？请到村委会认领。",
        "谁家丢了一只羊？请到村委会认领。",
        "shui2 jia1 diu1 le5 yi4 zhi1 yang2？ qing3 dao4 cun1 wei3 hui4 ren4 ling3。",
    ),
    Notice(
        "village-volunteer",
        "村里招募志愿者，要求年龄在20至60岁之间，身体健康，有意者请联系王主任，手机13912345678。",
        "村里招募志愿者，要求年龄在二十至六十岁之间，身体健康，有意者请联系王主任，手机幺三九幺二三四五六七八。",
        "cun1 li3 zhao1 mu4 zhi4 yuan4 zhe3， yao1 qiu2 nian2 ling2 zai4 er4 shi2 zhi4 liu4 shi2 sui4 zhi1 jian1， shen1 ti3 jian4 kang1， you3 yi4 zhe3 qing3 lian2 xi4 wang2 zhu3 ren4， shou3 ji1 yao1 san1 jiu3 yao1 er4 san1 si4 wu3 liu4 qi1 ba1。",
    ),
    Notice(
        "village-theater",
        "重阳节当晚村里放电影，请大家早点到广场占座，注意安全。",
        "重阳节当晚村里放电影，请大家早点到广场占座，注意安全。",
        "chong2 yang2 jie2 dang4 wan3 cun1 li3 fang4 dian4 ying3， qing3 da4 jia1 zao3 dian3 dao4 guang3 chang3 zhan4 zuo4， zhu4 yi4 an1 quan2。",
    ),
    Notice(
        "village-notice",
        "各位村民请注意：尧政发〔2024〕5号文件已经下发，请大家认真地学习。",
        "各位村民请注意：尧政发〔二零二四〕五号文件已经下发，请大家认真地学习。",
        "ge4 wei4 cun1 min2 qing3 zhu4 yi4： yao2 zheng4 fa1， er4 ling2 er4 si4， wu3 hao4 wen2 jian4 yi3 jing1 xia4 fa1， qing3 da4 jia1 ren4 zhen1 de5 xue2 xi2。",
    ),
]
