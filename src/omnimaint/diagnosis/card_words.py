"""Every word of the diagnosis card, in English and Chinese (keys ``dx.*``, added to the evaluation report's
catalogues by :class:`~omnimaint.evaluation.report.i18n.Translator`). Both languages hold the same keys with
the same ``{placeholders}`` (a test checks it). The dataset's own names and texts (assets, channels,
components, faults, work orders) and the library's reasons are shown as they are."""

from __future__ import annotations

from omnimaint.evaluation.report.i18n import Language

EN = {
    "dx.kicker": "omnimaint · diagnosis card",
    "dx.title": "{asset} at {time} UTC",
    "dx.meta": "{asset_type} · window ending {time} UTC · diagnosed in {seconds} s",
    "dx.likely_fault": "Likely fault",
    "dx.component": "Component at risk",
    "dx.rul": "Remaining useful life",
    "dx.health": "Health state",
    "dx.anomaly": "anomaly score {score}",
    "dx.frame_anomaly": "frame anomaly {score}",
    "dx.probability_of": "probability {p}",
    "dx.col.horizon": "Failure within",
    "dx.col.probability": "Probability",
    "dx.col.threshold": "Alert threshold",
    "dx.col.state": "State",
    "dx.alert": "alert",
    "dx.below": "below",
    "dx.no_threshold": "none calibrated",
    "dx.section.modalities": "Which signals drive it",
    "dx.section.telemetry": "Telemetry",
    "dx.section.spectrum": "Vibration",
    "dx.section.frames": "Camera",
    "dx.section.logs": "Log lines and work orders",
    "dx.section.cases": "Similar past cases",
    "dx.section.suggestions": "Suggested actions",
    "dx.section.reading": "How this card is made",
    "dx.explain.modalities": "Left: how much P(failure within {horizon}) falls when the model runs without the "
    "modality (masked as in training). Right: the weight the model's fusion gives it.",
    "dx.chart.modalities": "Fall in failure probability when each modality is dropped, and fusion weights",
    "dx.legend.contribution": "fall in P({horizon}) when dropped",
    "dx.legend.weight": "fusion weight",
    "dx.absent": "not in the window",
    "dx.explain.telemetry.baseline": "The channels whose readings, set to the asset's healthy level, lower "
    "P(failure within {horizon}) the most; each chart shows the window's readings, the asset's healthy band "
    "and the time range that drives the score.",
    "dx.explain.telemetry.mask": "The channels whose readings, masked, lower P(failure within {horizon}) the most "
    "(no healthy baseline: readings are masked rather than set to a healthy level).",
    "dx.channel": "{channel}: fall {fall}, {z}",
    "dx.z": "z {z} against healthy",
    "dx.no_z": "no healthy baseline",
    "dx.chart.telemetry": "{channel} over the diagnosed window",
    "dx.legend.series": "readings",
    "dx.legend.band": "healthy band (median ± 2 robust spreads)",
    "dx.legend.median": "healthy median",
    "dx.legend.range": "range that drives the score",
    "dx.no_telemetry": "The window holds no telemetry.",
    "dx.explain.spectrum": "The newest vibration burst of {channel} at {time} UTC{speed}{bearing}, against the "
    "asset's healthy bursts. Shaded: running-speed harmonics (1x, 2x) on the amplitude spectrum, bearing defect "
    "frequencies on the envelope spectrum (BPFO outer race, BPFI inner race, BSF ball spin, FTF cage); red "
    "when at least 3 z above healthy.",
    "dx.speed": ", shaft {hz} Hz",
    "dx.bearing": ", bearing {bearing}",
    "dx.chart.amplitude": "Amplitude spectrum of {channel}",
    "dx.chart.envelope": "Envelope spectrum of {channel}",
    "dx.axis.frequency": "frequency (Hz)",
    "dx.legend.burst": "this burst",
    "dx.legend.healthy_bursts": "healthy bursts",
    "dx.legend.band_shaded": "named band (a numbered band when at least 2 z above healthy)",
    "dx.legend.deviating": "band at least 3 z above healthy",
    "dx.col.band": "Band",
    "dx.col.spectrum": "Spectrum",
    "dx.col.range_hz": "Range (Hz)",
    "dx.col.amplitude": "Amplitude",
    "dx.col.healthy": "Healthy",
    "dx.col.z": "z",
    "dx.no_waveforms": "The window holds no vibration burst.",
    "dx.explain.frames": "Each patch of the frame is painted with the asset's healthy frame and the window "
    "re-scored; the redder a patch, the more P(failure) fell.",
    "dx.frame.caption": "{camera} at {time} UTC: hottest patch row {row}, column {column} of {grid}×{grid} "
    "(fall {fall})",
    "dx.frame.alt": "Camera {camera} at {time} UTC with the occlusion heat map in red; the hottest patch is "
    "row {row}, column {column} of {grid} by {grid}",
    "dx.explain.frame_anomaly": "Beside each, the PatchCore anomaly map of the newest frame: how far each part of "
    "it lies from the nearest patch of the healthy training frames (no failure head involved). Red starts at half "
    "the camera's reference (the healthy validation frames' 99th percentile) and is full at 1.5 times it.",
    "dx.frame.anomaly_caption": "{camera} at {time} UTC: PatchCore anomaly {score} of the healthy reference "
    "(1 = healthy frames' 99th percentile); most unusual at pixel row {row}, column {column}",
    "dx.frame.anomaly_alt": "Camera {camera} at {time} UTC with the PatchCore anomaly map in red; most unusual at "
    "pixel row {row}, column {column}",
    "dx.no_frames": "The window holds no camera frame.",
    "dx.explain.logs": "Events and work orders of the window, by how much P(failure within {horizon}) falls when "
    "each one is removed.",
    "dx.col.time": "Time (UTC)",
    "dx.col.kind": "Kind",
    "dx.col.label": "Code / component",
    "dx.col.severity": "Severity / order kind",
    "dx.col.text": "Text",
    "dx.col.fall": "Fall in P",
    "dx.kind.event": "event",
    "dx.kind.work_order": "work order",
    "dx.no_logs": "The window holds no event or work order.",
    "dx.explain.cases": "Past corrective work orders of this plant, opened before the diagnosed time, whose "
    "model state before the failure they closed is nearest to this window's (cosine similarity).",
    "dx.col.case": "Work order",
    "dx.col.asset_failure": "Asset, failure (UTC)",
    "dx.col.fault_component": "Fault, component",
    "dx.col.problem": "Problem",
    "dx.col.action": "Action",
    "dx.col.outcome": "Fix held?",
    "dx.col.similarity": "Similarity",
    "dx.outcome.held": "held",
    "dx.outcome.failed_again": "failed again",
    "dx.outcome.unknown": "too recent to say",
    "dx.no_cases": "No similar past cases: {reason}.",
    "dx.explain.suggestions": "The actions that resolved the nearest cases, ranked by their votes (the nearer a "
    "case, the more it weighs; a fix that did not hold weighs half), with how often each held.",
    "dx.col.votes": "Votes",
    "dx.col.held": "Held",
    "dx.col.cases": "Cases",
    "dx.held": "{held} of {known}",
    "dx.held_unknown": "not known yet",
    "dx.no_suggestions": "No suggestion without similar cases.",
    "dx.reading": "Every figure is the bundle's own model answering an edited copy of the diagnosed window "
    "(a modality, channel, time segment, frame patch or log line removed or set to the asset's healthy value).\n"
    "Healthy baseline: {windows} of {candidates} windows of the asset's own past ({rule}).\n"
    "Generated {generated} UTC by omnimaint.",
}

ZH = {
    "dx.kicker": "omnimaint · 诊断卡",
    "dx.title": "{asset}，{time}（UTC）",
    "dx.meta": "{asset_type} · 窗口截至 {time}（UTC）· 诊断用时 {seconds} 秒",
    "dx.likely_fault": "可能的故障",
    "dx.component": "风险部件",
    "dx.rul": "剩余使用寿命",
    "dx.health": "健康状态",
    "dx.anomaly": "异常分数 {score}",
    "dx.frame_anomaly": "画面异常度 {score}",
    "dx.probability_of": "概率 {p}",
    "dx.col.horizon": "故障时限",
    "dx.col.probability": "概率",
    "dx.col.threshold": "告警阈值",
    "dx.col.state": "状态",
    "dx.alert": "告警",
    "dx.below": "低于阈值",
    "dx.no_threshold": "未标定",
    "dx.section.modalities": "哪些信号在起作用",
    "dx.section.telemetry": "遥测",
    "dx.section.spectrum": "振动",
    "dx.section.frames": "摄像头",
    "dx.section.logs": "日志与工单",
    "dx.section.cases": "相似的历史案例",
    "dx.section.suggestions": "建议措施",
    "dx.section.reading": "本卡如何生成",
    "dx.explain.modalities": "左：模型不使用该模态（按训练时的方式屏蔽）时，{horizon}内故障概率下降多少。右：模型融合层"
    "给它的权重。",
    "dx.chart.modalities": "去掉各模态后故障概率的下降，以及融合权重",
    "dx.legend.contribution": "去掉后 {horizon} 故障概率的下降",
    "dx.legend.weight": "融合权重",
    "dx.absent": "窗口内没有",
    "dx.explain.telemetry.baseline": "把读数换成本设备健康水平后，{horizon}内故障概率下降最多的通道；每张图给出窗口内的"
    "读数、"
    "本设备的健康区间和推动分数的时间段。",
    "dx.explain.telemetry.mask": "屏蔽读数后，{horizon}内故障概率下降最多的通道（没有健康基线：读数被屏蔽，而不是换成健"
    "康水平）。",
    "dx.channel": "{channel}：下降 {fall}，{z}",
    "dx.z": "相对健康 z {z}",
    "dx.no_z": "无健康基线",
    "dx.chart.telemetry": "{channel} 在诊断窗口内",
    "dx.legend.series": "读数",
    "dx.legend.band": "健康区间（中位数 ± 2 倍稳健离散度）",
    "dx.legend.median": "健康中位数",
    "dx.legend.range": "推动分数的时间段",
    "dx.no_telemetry": "窗口内没有遥测数据。",
    "dx.explain.spectrum": "{channel} 最新的振动采样（{time}，UTC{speed}{bearing}），与本设备健康时的采样对比。"
    "阴影：幅值谱上的转频倍频（1x、2x），包络谱上的轴承故障频率（BPFO 外圈、BPFI 内圈、BSF 滚动体、FTF 保持架）；"
    "比健康水平高至少 3 个 z 时标红。",
    "dx.speed": "，转轴 {hz} Hz",
    "dx.bearing": "，轴承 {bearing}",
    "dx.chart.amplitude": "{channel} 的幅值谱",
    "dx.chart.envelope": "{channel} 的包络谱",
    "dx.axis.frequency": "频率（Hz）",
    "dx.legend.burst": "本次采样",
    "dx.legend.healthy_bursts": "健康采样",
    "dx.legend.band_shaded": "命名频带（编号频带比健康高至少 2 个 z 时也画出）",
    "dx.legend.deviating": "比健康高至少 3 个 z 的频带",
    "dx.col.band": "频带",
    "dx.col.spectrum": "谱",
    "dx.col.range_hz": "范围（Hz）",
    "dx.col.amplitude": "幅值",
    "dx.col.healthy": "健康",
    "dx.col.z": "z",
    "dx.no_waveforms": "窗口内没有振动采样。",
    "dx.explain.frames": "把画面的每一块换成本设备健康时的画面后重新评分；颜色越红，故障概率下降越多。",
    "dx.frame.caption": "{camera}，{time}（UTC）：最热的块在第 {row} 行第 {column} 列（共 {grid}×{grid}，下降 {fall}）",
    "dx.frame.alt": "摄像头 {camera} 在 {time}（UTC）的画面，红色为遮挡热力图；最热的块在第 {row} 行第 {column} 列（共 "
    "{grid}×{grid}）",
    "dx.explain.frame_anomaly": "旁边是最新画面的 PatchCore 异常图：画面每一部分与健康训练画面中最相近的图块"
    "相差多远（不经过故障预测头）。达到该摄像头参考值（健康验证画面的第 99 百分位）的一半时开始变红，"
    "达到 1.5 倍时最红。",
    "dx.frame.anomaly_caption": "{camera}，{time}（UTC）：PatchCore 异常度为健康参考值的 {score} 倍"
    "（1 = 健康画面的第 99 百分位）；最异常处在像素第 {row} 行第 {column} 列",
    "dx.frame.anomaly_alt": "摄像头 {camera} 在 {time}（UTC）的画面，红色为 PatchCore 异常图；最异常处在像素"
    "第 {row} 行第 {column} 列",
    "dx.no_frames": "窗口内没有摄像头画面。",
    "dx.explain.logs": "窗口内的事件和工单，按去掉每一条后 {horizon} 内故障概率下降多少排序。",
    "dx.col.time": "时间（UTC）",
    "dx.col.kind": "类型",
    "dx.col.label": "代码 / 部件",
    "dx.col.severity": "严重度 / 工单类型",
    "dx.col.text": "内容",
    "dx.col.fall": "概率下降",
    "dx.kind.event": "事件",
    "dx.kind.work_order": "工单",
    "dx.no_logs": "窗口内没有事件或工单。",
    "dx.explain.cases": "本厂在诊断时刻之前开出的纠正性工单中，所关闭故障之前的模型状态与本窗口最接近（余弦相似度）的那"
    "些。",
    "dx.col.case": "工单",
    "dx.col.asset_failure": "设备与故障时间（UTC）",
    "dx.col.fault_component": "故障与部件",
    "dx.col.problem": "问题",
    "dx.col.action": "措施",
    "dx.col.outcome": "是否奏效",
    "dx.col.similarity": "相似度",
    "dx.outcome.held": "奏效",
    "dx.outcome.failed_again": "再次故障",
    "dx.outcome.unknown": "为时尚早",
    "dx.no_cases": "没有相似的历史案例：{reason}。",
    "dx.explain.suggestions": "解决了最相似案例的措施，按票数排序（案例越相似权重越大；未奏效的修复权重减半），并给出各"
    "自奏效的次数。",
    "dx.col.votes": "票数",
    "dx.col.held": "奏效",
    "dx.col.cases": "案例",
    "dx.held": "{known} 次中 {held} 次",
    "dx.held_unknown": "尚不可知",
    "dx.no_suggestions": "没有相似案例，无法给出建议。",
    "dx.reading": "每个数字都是模型包自带的模型对诊断窗口的修改副本（去掉或换成健康值的模态、通道、时间段、画面块或日志"
    "行）给出的回答。\n"
    "健康基线：本设备历史中的 {windows} 个窗口（共评估 {candidates} 个；{rule}）。\n"
    "由 omnimaint 于 {generated}（UTC）生成。",
}

CARD_WORDS: dict[Language, dict[str, str]] = {"en": EN, "zh": ZH}
