"""Chinese work-order phrasings, as maintenance logs in Chinese plants are written.

Same structure and placeholders as :mod:`omnimaint.sim.text_en`.
"""

from __future__ import annotations

from typing import Final

PARTS: Final = {
    "centrifugal_pump": {"machine": "水泵", "rotor": "叶轮", "cooler": "电机风扇"},
    "cnc_spindle": {"machine": "主轴", "rotor": "主轴转子", "cooler": "冷却机"},
    "conveyor_drive": {"machine": "输送机", "rotor": "主动滚筒", "cooler": "电机风扇"},
}

CORRECTIVE: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "bearing_wear": {
        "problem": (
            "轴承异响，振动偏大",
            "驱动端轴承噪音大，{machine}振动跳停",
            "轴承运转不平稳，温度高，振值{vib} mm/s",
            "轴承座有明显异响，已停机",
        ),
        "cause": ("轴承外圈点蚀剥落", "润滑不良，轴承磨损", "润滑脂变质，外圈磨损严重", "轴承疲劳失效"),
        "action": ("更换轴承，加注润滑脂", "更换驱动端轴承，试车正常", "更换轴承及密封，重新润滑，振动恢复正常"),
    },
    "imbalance": {
        "problem": ("工频振动大", "{machine}抖动严重，1倍频偏高", "转子不平衡，振值{vib} mm/s"),
        "cause": ("{rotor}结垢导致不平衡", "{rotor}平衡块脱落", "{rotor}积料磨损"),
        "action": ("清理{rotor}并做动平衡", "现场动平衡，振动恢复正常", "更换{rotor}，做动平衡"),
    },
    "misalignment": {
        "problem": ("联轴器处振动大，轴向窜动", "联轴器磨损有异响，2倍频高", "联轴器弹性块碎裂"),
        "cause": ("电机与{machine}不对中，地脚松动", "联轴器对中不良", "电机底座移位"),
        "action": ("激光对中，加垫片调整", "重新对中，更换联轴器弹性块，紧固地脚螺栓", "处理软脚，重新对中"),
    },
    "overheating": {
        "problem": (
            "电机温度过高，过热跳闸",
            "壳体发热变色，有焦糊味",
            "过热冒烟，紧急停机",
            "壳体温度{temp}℃，已停机",
        ),
        "cause": ("{cooler}积灰堵塞，不通风", "{cooler}损坏", "散热片堵塞", "冷却流量不足，过滤器堵塞"),
        "action": (
            "清理{cooler}及散热片，更换风扇",
            "更换{cooler}，冲洗冷却回路",
            "清理冷却通道，更换滤芯，带载测温正常",
        ),
    },
    "seal_leak": {
        "problem": ("机封漏水，地面有积水", "机械密封泄漏严重", "{machine}下方大量积液，密封处滴漏"),
        "cause": ("机械密封动静环磨损", "O型圈老化开裂", "干转损坏密封"),
        "action": ("更换机械密封，清理现场", "更换密封组件，检查轴套", "更换机封及O型圈，试压无泄漏"),
    },
    "belt_wear": {
        "problem": ("皮带打滑跑偏", "皮带边缘严重起毛，打滑报警", "皮带跑偏撕边", "皮带打滑{slip}%，物料不走"),
        "cause": ("皮带磨损，张力不足", "跑偏调整不当，边缘与机架摩擦", "{rotor}包胶磨损"),
        "action": ("更换皮带，调整张紧和跑偏", "换新皮带，调整托辊", "更换皮带并重新包胶{rotor}"),
    },
    "electrical_fault": {
        "problem": (
            "电机过流跳闸，无法启动",
            "频繁跳闸，接地故障报警",
            "变频器报故障，电机有焦味",
            "电机保护器多次动作",
        ),
        "cause": ("电机绕组绝缘老化", "接线盒端子松动打火", "电缆破损受潮", "绕组对地短路"),
        "action": (
            "更换电机",
            "重新压接电缆，绝缘测试合格",
            "更换电机及电缆格兰头，烘干接线盒",
            "电机送修，换备用电机",
        ),
    },
}

FOUND: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "bearing_wear": {
        "problem": ("巡检发现轴承轻微异响，振动有上升趋势", "听诊驱动端轴承声音不正常"),
        "cause": ("轴承外圈早期磨损", "润滑脂干涸"),
        "action": ("预防性更换轴承", "提前更换驱动端轴承，重新加脂"),
    },
    "imbalance": {
        "problem": ("工频振动略高", "{rotor}脏污，有振动"),
        "cause": ("{rotor}结垢",),
        "action": ("清理{rotor}并做动平衡",),
    },
    "misalignment": {
        "problem": ("联轴器发热，对中超差",),
        "cause": ("不对中，地脚螺栓松动",),
        "action": ("重新对中，紧固地脚螺栓",),
    },
    "overheating": {
        "problem": ("壳体温度比平时高，{cooler}有杂音", "同负荷下温度偏高"),
        "cause": ("{cooler}部分堵塞", "散热片积灰"),
        "action": ("清理{cooler}，更换风扇", "清理散热片和滤网"),
    },
    "seal_leak": {
        "problem": ("密封处轻微滴漏，地面有水迹", "机封渗漏"),
        "cause": ("密封面开始磨损",),
        "action": ("提前更换机械密封",),
    },
    "belt_wear": {
        "problem": ("皮带边缘开始起毛，略有跑偏",),
        "cause": ("皮带磨损，跑偏",),
        "action": ("更换皮带，调整跑偏",),
    },
    "electrical_fault": {
        "problem": ("接线盒发热，绝缘电阻偏低",),
        "cause": ("绝缘下降，端子松动",),
        "action": ("重新压接，烘干，绝缘测试合格",),
    },
}

PREVENTIVE: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "bearing": {
        "problem": ("PM：轴承润滑保养", "定期加脂"),
        "action": ("加注润滑脂，检查振动温度正常", "驱动端和非驱动端轴承加脂"),
    },
    "rotor": {
        "problem": ("PM：对中及平衡检查",),
        "action": ("检查对中和联轴器，在允许范围内", "检查对中，紧固地脚螺栓"),
    },
    "cooling": {
        "problem": ("PM：冷却系统保养", "定期清理{cooler}"),
        "action": ("清理{cooler}及散热片", "清洗滤网，检查冷却流量"),
    },
    "seal": {"problem": ("PM：密封检查",), "action": ("检查机封无泄漏，冲洗管路正常", "检查密封区域，干燥无渗漏")},
    "belt": {
        "problem": ("PM：皮带张紧及跑偏检查",),
        "action": ("检查皮带张紧和跑偏，已调整", "皮带状况良好，张力已调"),
    },
    "motor": {"problem": ("PM：电机电气检查",), "action": ("绝缘测试合格，端子检查紧固", "检查电机电流及接线")},
}

ROUTINE: Final = {
    "problem": ("日常点检", "巡检", "{machine}周检"),
    "action": ("正常", "未发现异常", "检查声音、泄漏、温度，均正常", "OK"),
}

POOR_REPAIR: Final = ("临时处理，无备件", "旧件回装，新件已订购", "为赶生产临时修复", "目测对中，待复查")

DETAIL: Final = ("振值{vib} mm/s", "温度{temp}℃", "试车1小时正常", "已通知班长", "备件已领用")
