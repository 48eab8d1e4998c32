"""Polyphones in notice sentences, with the reading a Mandarin announcer gives them.

Each entry is a sentence as a clerk writes it, one word in it whose characters have more than
one reading, and the syllables of that word (tone numbers, 5 for the neutral tone, ü written
``ü``). Readings follow the 现代汉语词典 (7th edition), neutral tones included, with 一 and 不
as they are spoken (the tone changes are part of the reading the engine must be given).

``tests/audio/test_pinyin.py`` checks every entry, reports the accuracy before (espeak-ng's own
reading of the characters) and after (the syllables the pipeline gives the engine), and checks
through espeak-ng that what is fed is read as intended.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Polyphone:
    """``word`` occurs in ``sentence``; ``pinyin`` are its syllables, space-separated."""

    sentence: str
    word: str
    pinyin: str

    @property
    def id(self) -> str:
        return f"{self.word}:{self.pinyin.replace(' ', '-')}"


def _rows(text: str) -> list[Polyphone]:
    rows = []
    for line in text.strip().splitlines():
        sentence, word, pinyin = (part.strip() for part in line.split("|"))
        rows.append(Polyphone(sentence, word, pinyin))
    return rows


# Words whose characters have several dictionary readings (多音字), the reading fixed by the word.
POLYPHONES: list[Polyphone] = _rows(
    """
请到村口的农业银行办理补贴存折。 | 银行 | yin2 hang2
全体村民要积极行动起来，清理房前屋后的垃圾。 | 行动 | xing2 dong4
雨雪天气请大家减少出行。 | 出行 | chu1 xing2
本村将严格执行森林防火规定。 | 执行 | zhi2 xing2
银行行长提醒大家不要把验证码告诉别人。 | 行长 | hang2 zhang3
各行各业都要做好安全生产工作。 | 各行各业 | ge4 hang2 ge4 ye4
请行人走人行道，不要横穿马路。 | 行人 | xing2 ren2
从重庆回来的人员请主动到村委会登记。 | 重庆 | chong2 qing4
这是一件关系到全村安全的重要事情。 | 重要 | zhong4 yao4
损坏的水管已经重新修好了。 | 重新 | chong2 xin1
今年重阳节村里将为老人举办座谈会。 | 重阳节 | chong2 yang2 jie2
这次冰雹给果园造成了严重损失。 | 严重 | yan2 zhong4
请不要重复领取补贴。 | 重复 | chong2 fu4
晚上广场上放音乐的时候请把音量调小。 | 音乐 | yin1 yue4
祝全体村民新春快乐。 | 快乐 | kuai4 le4
天热了，中午睡觉时请关好门窗。 | 睡觉 | shui4 jiao4
如果觉得身体不舒服，请及时就医。 | 觉得 | jue2 de5
发现可疑人员请提高警觉并报告村委会。 | 警觉 | jing3 jue2
首都北京的专家下周到我村义诊。 | 首都 | shou3 du1
大家都要按时缴纳医疗保险。 | 都要 | dou1 yao4
尧都区气象台发布大风蓝色预警。 | 尧都区 | yao2 du1 qu1
成都来的游客请扫码登记。 | 成都 | cheng2 du1
有人推销便宜的保健品，千万不要上当。 | 便宜 | pian2 yi5
买东西不要贪便宜，谨防上当受骗。 | 贪便宜 | tan1 pian2 yi5
村里新建了便民服务站。 | 便民 | bian4 min2
为了方便群众，服务大厅周六照常办公。 | 方便 | fang1 bian4
发现火情要及时处理，并拨打火警电话。 | 处理 | chu3 li3
违反规定的将依法处罚。 | 处罚 | chu3 fa2
请不要到处乱扔垃圾。 | 到处 | dao4 chu4
镇办事处明天上午开始发放补贴。 | 办事处 | ban4 shi4 chu4
目前正处于汛期，请勿到河边玩耍。 | 处于 | chu3 yu2
邻里之间要和睦相处。 | 相处 | xiang1 chu3
春耕时节，请大家抓紧种地。 | 种地 | zhong4 di4
请到农技站领取玉米种子。 | 种子 | zhong3 zi5
六十岁以上老人请尽快接种疫苗。 | 接种 | jie1 zhong4
今年村里推广新的小麦品种。 | 品种 | pin3 zhong3
各种补贴将直接打到一卡通上。 | 各种 | ge4 zhong3
植树节全村一起种树。 | 种树 | zhong4 shu4
今年全村种植花椒两百亩。 | 种植 | zhong4 zhi2
天气炎热，开空调时温度不要低于二十六度。 | 空调 | kong1 tiao2
统计局工作人员下周入户调查。 | 调查 | diao4 cha2
公交车发车时间有所调整。 | 调整 | tiao2 zheng3
邻里纠纷由村人民调解委员会负责调解。 | 调解 | tiao2 jie3
乡镇干部工作调动后，请联系新的负责人。 | 调动 | diao4 dong4
村卫生室的大夫每周二上门看病。 | 大夫 | dai4 fu5
借了别人的钱要按时还钱。 | 还钱 | huan2 qian2
贷款到期请及时还款。 | 还款 | huan2 kuan3
还有没有领到口罩的村民？ | 还有 | hai2 you3
借用的桌椅请按时归还。 | 归还 | gui1 huan2
你还是先打电话问清楚。 | 还是 | hai2 shi4
孩子长大了，家长更要注意教育方式。 | 长大 | zhang3 da4
请村长通知各户到村委会开会。 | 村长 | cun1 zhang3
这次停电时间较长，请提前做好准备。 | 较长 | jiao4 chang2
家长要看护好孩子，严禁到水库游泳。 | 家长 | jia1 zhang3
医保缴费期限延长到月底。 | 延长 | yan2 chang2
全村粮食产量比去年增长一成。 | 增长 | zeng1 zhang3
长期不用的电器请拔掉插头。 | 长期 | chang2 qi1
请大家了解防诈骗知识。 | 了解 | liao3 jie3
天冷了，请注意保暖。 | 冷了 | leng3 le5
高温天气让老人受不了，请多照看。 | 受不了 | shou4 bu5 liao3
获得补贴的农户名单已经公示。 | 获得 | huo4 de2
记得带好身份证和户口本。 | 记得 | ji4 de5
明天要下大雪，大家得提前备好煤炭。 | 得 | dei3
房前屋后要打扫得干干净净。 | 扫得 | sao3 de5
电线着火时不要用水扑灭。 | 着火 | zhao2 huo3
晚上温度低，小心着凉。 | 着凉 | zhao2 liang2
请沿着河堤巡查，发现险情立即报告。 | 沿着 | yan2 zhe5
大家不要着急，排好队依次领取。 | 着急 | zhao2 ji2
各村要着手做好秋收准备。 | 着手 | zhuo2 shou3
这次检查着重查看电动车充电。 | 着重 | zhuo2 zhong4
为了大家的安全，请不要私拉电线。 | 为了 | wei4 le5
培训活动为期三天。 | 为期 | wei2 qi1
我村被评为省级文明村。 | 评为 | ping2 wei2
因为天气原因，集市暂停一次。 | 因为 | yin1 wei4
党员干部要全心全意为人民服务。 | 为人民 | wei4 ren2 min2
这种行为是违法的，请立即停止。 | 行为 | xing2 wei2
理发店今天暂停营业。 | 理发 | li3 fa4
发现问题请及时报告。 | 发现 | fa1 xian4
老人头发长了可以到服务站免费理发。 | 头发 | tou2 fa5
请各户数一数领到的口罩数量。 | 数一数 | shu3 yi5 shu3
数量有限，先到先得。 | 数量 | shu4 liang4
参会人数不超过五十人。 | 人数 | ren2 shu4
学校的教师下午召开家长会。 | 教师 | jiao4 shi1
农技员来村里教大家嫁接果树。 | 教大家 | jiao1 da4 jia1
有不懂的地方可以请教村干部。 | 请教 | qing3 jiao4
昼夜温差大，请注意添衣。 | 温差 | wen1 cha1
村干部出差期间由副主任值班。 | 出差 | chu1 chai1
两个方案差不多。 | 差不多 | cha4 bu5 duo1
今天空气质量较差。 | 较差 | jiao4 cha4
昨晚一户村民差点引发火灾。 | 差点 | cha4 dian3
请会计把账目公开。 | 会计 | kuai4 ji4
晚上七点在村委会开会。 | 开会 | kai1 hui4
今天天气暖和，适合晾晒被褥。 | 暖和 | nuan3 huo5
建设平安和谐乡村。 | 和谐 | he2 xie2
村里的面食培训教大家和面。 | 和面 | huo2 mian4
大家应该自觉遵守规定。 | 应该 | ying1 gai1
请积极响应号召。 | 响应 | xiang3 ying4
遇到紧急情况要启动应急预案。 | 应急 | ying4 ji2
保证农忙期间化肥供应。 | 供应 | gong1 ying4
请大家认真地听好以下通知。 | 认真地 | ren4 zhen1 de5
地震来了不要慌，要躲到安全的地方。 | 地震 | di4 zhen4
这次检查的目的是消除安全隐患。 | 目的 | mu4 di4
这个消息的确是真的。 | 的确 | di2 que4
欢迎村民踊跃参加。 | 参加 | can1 jia1
不要购买来历不明的人参。 | 人参 | ren2 shen1
老年人要定期测量血压。 | 血压 | xue4 ya1
欢迎适龄村民无偿献血。 | 献血 | xian4 xue4
明天上午停止供电。 | 供电 | gong1 dian4
请提供本人的身份证复印件。 | 提供 | ti2 gong1
各项措施要落实到户。 | 落实 | luo4 shi2
出门前检查一下，别把钥匙落下。 | 落下 | la4 xia4
对困难群众给予临时救助。 | 给予 | ji3 yu3
请把表格交给村委会。 | 交给 | jiao1 gei3
请帮忙转告家里的老人。 | 转告 | zhuan3 gao4
请不要转发来历不明的链接。 | 转发 | zhuan3 fa1
电机转动时不要触碰。 | 转动 | zhuan4 dong4
流感容易传染，请勤洗手。 | 传染 | chuan2 ran3
村里开展防火宣传。 | 宣传 | xuan1 chuan2
村里成立了戏曲爱好者协会。 | 爱好者 | ai4 hao4 zhe3
请保管好自己的财物。 | 保管好 | bao3 guan3 hao3
学生放学请背好书包，排队出校门。 | 背好 | bei1 hao3
不要轻信背后有人担保的高息投资。 | 背后 | bei4 hou4
请各单位做好值班安排。 | 单位 | dan1 wei4
名单已经张贴在公告栏。 | 名单 | ming2 dan1
请尽快到村委会领取。 | 尽快 | jin3 kuai4
冬季尽量不要在屋里生炉子。 | 尽量 | jin3 liang4
我们会尽力帮助受灾群众。 | 尽力 | jin4 li4
只有本人才能办理。 | 只有 | zhi3 you3
走失了一只羊，看到的村民请联系村委会。 | 一只 | yi4 zhi1
进入超市请配合量体温。 | 量体温 | liang2 ti3 wen1
请对自家房屋进行测量登记。 | 测量 | ce4 liang2
产品质量有问题可以投诉。 | 质量 | zhi4 liang4
有事大家商量着办。 | 商量 | shang1 liang5
驻村干部明天入户走访。 | 干部 | gan4 bu4
今年春季干旱少雨，请节约用水。 | 干旱 | gan1 han4
保持室内干净整洁。 | 干净 | gan1 jing4
下地干活请注意防暑。 | 干活 | gan4 huo2
成分不明的药品不要服用。 | 成分 | cheng2 fen4
请在十分钟内撤离。 | 分钟 | fen1 zhong1
出现恶心呕吐症状请及时就医。 | 恶心 | e3 xin5
天气恶劣，请勿外出。 | 恶劣 | e4 lie4
生活困难的家庭可以申请救助。 | 困难 | kun4 nan5
珍爱生命，防止溺水遇难。 | 遇难 | yu4 nan4
有难处的村民请找村干部。 | 难处 | nan2 chu5
请加强夜间巡逻。 | 加强 | jia1 qiang2
不要强迫老人购买保险。 | 强迫 | qiang3 po4
今天有强劲的偏北风。 | 强劲 | qiang2 jing4
请大家节省用水。 | 节省 | jie2 sheng3
山西省气象台发布寒潮预警。 | 山西省 | shan1 xi1 sheng3
明天起气温明显下降。 | 下降 | xia4 jiang4
暴雨可能淹没低洼地带。 | 淹没 | yan1 mo4
违禁物品一律没收。 | 没收 | mo4 shou1
还没有登记的请抓紧。 | 没有 | mei2 you3
全村疫苗接种率已达百分之九十。 | 接种率 | jie1 zhong4 lü4
书记率领工作队检查堤坝。 | 率领 | shuai4 ling3
请不要在露天焚烧秸秆。 | 露天 | lu4 tian1
个人信息一旦泄露，后果严重。 | 泄露 | xie4 lou4
不要长时间暴露在烈日下。 | 暴露 | bao4 lu4
前方道路堵塞，请绕行。 | 堵塞 | du3 se4
国庆假期出行请注意安全。 | 假期 | jia4 qi1
警惕假冒的客服电话。 | 假冒 | jia3 mao4
学生放假期间要防溺水。 | 放假 | fang4 jia4
值班人员不得擅自请假。 | 请假 | qing3 jia4
请相关人员准时参加。 | 相关 | xiang1 guan1
办理证件需要本人照相。 | 照相 | zhao4 xiang4
车辆朝着北方向行驶。 | 朝着 | chao2 zhe5
几乎每家都有电动车。 | 几乎 | ji1 hu1
还剩几个名额，请抓紧报名。 | 几个 | ji3 ge4
两次接种的间隔为二十一天。 | 间隔 | jian4 ge2
学校周边严禁摆摊。 | 学校 | xue2 xiao4
乘车请系好安全带。 | 系好 | ji4 hao3
有问题请联系村委会。 | 联系 | lian2 xi4
补贴发放到社保卡上。 | 社保卡 | she4 bao3 ka3
各路口设卡劝返外来车辆。 | 设卡 | she4 qia3
严禁随地吐痰。 | 吐痰 | tu3 tan2
出现呕吐腹泻请及时就医。 | 呕吐 | ou3 tu4
排队时不要扎堆聊天。 | 扎堆 | zha1 dui1
听到警报请迅速疏散。 | 疏散 | shu1 san4
不要购买散装白酒。 | 散装 | san3 zhuang1
请及时清理猪圈和羊圈。 | 猪圈 | zhu1 juan4
请看护好自家孩子。 | 看护 | kan1 hu4
各村要安排专人看守。 | 看守 | kan1 shou3
少年儿童不要玩火。 | 少年 | shao4 nian2
请减少聚集。 | 减少 | jian3 shao3
打麦场禁止吸烟。 | 打麦场 | da3 mai4 chang2
今晚文化广场放电影。 | 广场 | guang3 chang3
严禁烧荒。 | 严禁 | yan2 jin4
河面结冰，禁止在冰上行走。 | 结冰 | jie2 bing1
检测结果将短信通知。 | 结果 | jie2 guo3
对方自称是公安局的工作人员。 | 自称 | zi4 cheng1
全力推进乡村振兴。 | 振兴 | zhen4 xing1
冬闲时节兴修水利。 | 兴修 | xing1 xiu1
请及时更换燃气软管。 | 更换 | geng1 huan4
雨天路滑，大家更要注意安全。 | 更要 | geng4 yao4
冬季取暖谨防一氧化碳中毒。 | 中毒 | zhong4 du2
高温天气谨防中暑。 | 中暑 | zhong4 shu3
收到中奖短信不要相信。 | 中奖 | zhong4 jiang3
河水上涨，请远离河道。 | 上涨 | shang4 zhang3
大力发展农村经济。 | 经济 | jing1 ji4
请积极响应号召，按时接种。 | 号召 | hao4 zhao4
村庄规划已经公示。 | 规划 | gui1 hua4
贪小便宜看着划算，其实是骗局。 | 划算 | hua2 suan4
不要喝生水。 | 喝生水 | he1 sheng1 shui3
请大家不要担心。 | 担心 | dan1 xin1
沿街店铺要配备灭火器。 | 店铺 | dian4 pu4
施工队正在铺设管道。 | 铺设 | pu1 she4
禁止燃放鞭炮。 | 鞭炮 | bian1 pao4
请清理墙角的杂物。 | 墙角 | qiang2 jiao3
气象台发布暴雨黄色预警。 | 黄色 | huang2 se4
请下载国家反诈中心应用。 | 下载 | xia4 zai4
车辆严禁超载。 | 超载 | chao1 zai4
他曾经被骗过两万元。 | 曾经 | ceng2 jing1
请仔细核对个人信息。 | 仔细 | zi3 xi4
有困难请找村委会解决。 | 解决 | jie3 jue2
出现咽喉肿痛请及时就医。 | 咽喉 | yan1 hou2
不要被花言巧语蒙骗。 | 蒙骗 | meng1 pian4
倒车时注意观察身后。 | 倒车 | dao4 che1
大风可能刮倒树木。 | 刮倒 | gua1 dao3
今天空气质量良好。 | 空气 | kong1 qi4
利用房前屋后的空地种菜。 | 空地 | kong4 di4
请大家抽空到村委会签字。 | 抽空 | chou1 kong4
工作人员将挨家挨户上门登记。 | 挨家挨户 | ai1 jia1 ai1 hu4
全村累计接种三千人次。 | 累计 | lei3 ji4
老人不要过度劳累。 | 劳累 | lao2 lei4
请把牲畜关好。 | 牲畜 | sheng1 chu4
畜牧站的工作人员下午来打疫苗。 | 畜牧 | xu4 mu4
乘车时请不要把头伸出窗外。 | 乘车 | cheng2 che1
出现头晕乏力请立即休息。 | 头晕 | tou2 yun1
雷雨天气不要在电线杆下避雨。 | 电线杆 | dian4 xian4 gan1
警惕骗子哄骗老人。 | 哄骗 | hong3 pian4
对陌生来电要多加提防。 | 提防 | di1 fang5
请不要在墙上乱粘贴广告。 | 粘贴 | zhan1 tie1
对方恐吓说要冻结你的账户。 | 恐吓 | kong3 he4
喷洒农药时请戴好口罩。 | 喷洒 | pen1 sa3
提倡丧事简办。 | 丧事 | sang1 shi4
请大家挑选自己需要的农资。 | 挑选 | tiao1 xuan3
新鲜的蔬菜今天上午到货。 | 新鲜 | xin1 xian1
有心脏病的老人不要参加。 | 心脏病 | xin1 zang4 bing4
坚决整治脏乱差。 | 脏乱差 | zang1 luan4 cha4
所谓打折促销的保健品不要买。 | 打折 | da3 zhe2
今晚用电负荷较大，请错峰用电。 | 负荷 | fu4 he4
今天天气闷热，请注意防暑。 | 闷热 | men1 re4
全力创建卫生村。 | 创建 | chuang4 jian4
出现发热症状请及时就医。 | 症状 | zheng4 zhuang4
出国务工人员要预防疟疾。 | 疟疾 | nüe4 ji5
全员核酸检测明天开始。 | 核酸 | he2 suan1
村委会呼吁大家节约用水。 | 呼吁 | hu1 yu4
以裸照敲诈勒索的，请立即报警。 | 勒索 | le4 suo3
请家属陪同老人前来。 | 家属 | jia1 shu3
外来人员住宿要登记。 | 住宿 | zhu4 su4
请在家等待通知。 | 等待 | deng3 dai4
无证的小作坊一律取缔。 | 作坊 | zuo1 fang5
严禁私藏烟花爆竹。 | 私藏 | si1 cang2
请用清水冲洗伤口。 | 冲洗 | chong1 xi3
宁可十防九空，不可失防万一。 | 宁可 | ning4 ke3
消毒可以用漂白粉。 | 漂白粉 | piao3 bai2 fen3
遇到类似情况请立即报警。 | 类似 | lei4 si4
盛夏时节要防溺水。 | 盛夏 | sheng4 xia4
"""
)

# 一 and 不 change their tone by what follows; the engine reads them as written (yi1, bu4).
SANDHI: list[Polyphone] = _rows(
    """
请大家一定要注意防火。 | 一定 | yi2 ding4
全村一起动手清理垃圾。 | 一起 | yi4 qi3
集中隔离一天后解除。 | 一天 | yi4 tian1
今年每户补贴一千二百元。 | 一千二百元 | yi4 qian1 er4 bai3 yuan2
每个人都有一个号码。 | 一个 | yi2 ge4
违禁物品一律没收。 | 一律 | yi2 lü4
个人信息一旦泄露，后果严重。 | 一旦 | yi2 dan4
一般情况下不需要隔离。 | 一般 | yi4 ban1
请大家统一到村委会门口集合。 | 统一 | tong3 yi1
第一批疫苗已经到了。 | 第一 | di4 yi1
十一月一日起实行冬季作息时间。 | 十一月一日 | shi2 yi1 yue4 yi1 ri4
全村共有一百一十户。 | 一百一十户 | yi4 bai3 yi1 shi2 hu4
他是一九九八年出生的。 | 一九九八年 | yi1 jiu3 jiu3 ba1 nian2
请到一号楼一层领取。 | 一号楼一层 | yi1 hao4 lou2 yi1 ceng2
下午一点在广场集合。 | 一点 | yi1 dian3
请大家再仔细看一看。 | 看一看 | kan4 yi5 kan4
这是唯一的办法。 | 唯一 | wei2 yi1
以防万一，请备好手电。 | 万一 | wan4 yi1
这不是演习。 | 不是 | bu2 shi4
不要相信陌生人。 | 不要 | bu2 yao4
不能私拉电线。 | 不能 | bu4 neng2
未成年人不得下河游泳。 | 不得 | bu4 de2
你是不是村委会的工作人员？ | 是不是 | shi4 bu5 shi4
不会用手机的老人请找网格员。 | 不会 | bu2 hui4
不用排队，直接办理。 | 不用 | bu2 yong4
不准在河道倾倒垃圾。 | 不准 | bu4 zhun3
村里将不定期开展检查。 | 不定期 | bu2 ding4 qi1
不管白天黑夜，都要有人值守。 | 不管 | bu4 guan3
"""
)

# 儿 after a word (儿化) is one syllable with the word; the engine gets it as a light er5.
ERHUA: list[Polyphone] = _rows(
    """
请大家动作快一点儿。 | 一点儿 | yi4 dian3 er5
你家孩子在哪儿上学？ | 哪儿 | na3 er5
请在这儿排队。 | 这儿 | zhe4 er5
稍等一会儿就到你了。 | 一会儿 | yi2 hui4 er5
孩子们不要到河边玩儿。 | 玩儿 | wan2 er5
请把女儿的户口本带来。 | 女儿 | nü3 er2
婴儿和老人要特别注意保暖。 | 婴儿 | ying1 er2
儿童要在大人陪同下乘车。 | 儿童 | er2 tong2
"""
)

ALL: list[Polyphone] = POLYPHONES + SANDHI + ERHUA
