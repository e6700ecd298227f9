"""Controller event codes: severity and message templates in English and Chinese."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class EventCode:
    """One controller event code.

    Attributes:
        code: The code, ``<family>-<name>``: ST state, OP operator, MT maintenance, WN warning,
            AL alarm, SF safety.
        severity: ``info``, ``warning``, ``alarm`` or ``critical``.
        en: English message template.
        zh: Chinese message template.
    """

    code: str
    severity: str
    en: str
    zh: str


EVENT_CODES: Final[dict[str, EventCode]] = {
    e.code: e
    for e in (
        EventCode("ST-START", "info", "Motor started", "电机启动"),
        EventCode("ST-STOP", "info", "Motor stopped", "电机停止"),
        EventCode("OP-SETPT", "info", "Speed setpoint changed to {rpm} rpm", "转速设定值改为 {rpm} rpm"),
        EventCode("OP-RESET", "info", "Fault reset by operator", "操作员复位故障"),
        EventCode("MT-LOCKOUT", "info", "Machine locked out for maintenance", "设备挂牌上锁检修"),
        EventCode("MT-RELEASE", "info", "Maintenance finished, machine released", "检修完成，设备解锁"),
        EventCode("AL-OVERCURRENT", "alarm", "Overcurrent trip, I={amps} A", "过流跳闸，电流 {amps} A"),
        EventCode("WN-GND-FAULT", "warning", "Earth leakage current high ({ma} mA)", "接地漏电流偏高（{ma} mA）"),
        EventCode("WN-TEMP-HIGH", "warning", "{channel} high: {value} degC", "{channel}温度高：{value}℃"),
        EventCode("WN-VIB-HIGH", "warning", "Vibration high: {value} mm/s", "振动偏高：{value} mm/s"),
        EventCode("AL-BELT-SLIP", "alarm", "Belt slip detected ({value}%)", "检测到皮带打滑（{value}%）"),
        EventCode("SF-ZONE-INTRUSION", "alarm", "Person detected in safety zone", "安全区域检测到人员闯入"),
        EventCode("AL-UNDERVOLT", "alarm", "Supply undervoltage, drive tripped", "电源欠压，变频器跳闸"),
        EventCode("AL-VIB-TRIP", "critical", "Vibration trip, machine stopped", "振动超限跳机"),
        EventCode("AL-OVERTEMP-TRIP", "critical", "Overtemperature trip, machine stopped", "超温跳机"),
        EventCode("AL-LEAK-DETECTED", "critical", "Leak sensor: liquid at pump base", "泄漏传感器：泵底座有液体"),
        EventCode("AL-BELT-TRACK", "critical", "Belt misalignment switch tripped", "皮带跑偏开关动作"),
        EventCode("AL-MOTOR-FAULT", "critical", "Motor protection trip (earth fault)", "电机保护跳闸（接地故障）"),
        EventCode("AL-COMM-LOSS", "warning", "Communication lost with remote I/O", "与远程I/O通讯中断"),
        EventCode("WN-SENSOR-RANGE", "warning", "Sensor signal out of range", "传感器信号超量程"),
        EventCode("AL-ESTOP", "alarm", "Emergency stop pressed", "急停按钮被按下"),
        EventCode("WN-LUBE-LOW", "warning", "Lubricant level low", "润滑油位低"),
        EventCode("AL-DOOR-OPEN", "warning", "Guard door opened during cycle", "加工中防护门被打开"),
        EventCode("WN-FILTER-DP", "warning", "Coolant filter differential pressure high", "冷却液过滤器压差高"),
        EventCode("AL-JAM", "alarm", "Material jam at transfer point", "转运处堵料"),
        EventCode("WN-SUCTION-LOW", "warning", "Suction pressure low", "入口压力低"),
    )
}

FAILURE_CODES: Final = {
    "bearing_wear": "AL-VIB-TRIP",
    "imbalance_misalignment": "AL-VIB-TRIP",
    "overheating": "AL-OVERTEMP-TRIP",
    "seal_leak": "AL-LEAK-DETECTED",
    "belt_wear": "AL-BELT-TRACK",
    "electrical_fault": "AL-MOTOR-FAULT",
}
"""The trip a controller raises when a fault mode ends in functional failure."""

NUISANCE_CODES: Final[dict[str, tuple[tuple[str, float], ...]]] = {
    "centrifugal_pump": (
        ("AL-COMM-LOSS", 0.05),
        ("WN-SENSOR-RANGE", 0.05),
        ("WN-LUBE-LOW", 0.04),
        ("WN-SUCTION-LOW", 0.08),
    ),
    "cnc_spindle": (
        ("AL-COMM-LOSS", 0.05),
        ("WN-SENSOR-RANGE", 0.05),
        ("AL-DOOR-OPEN", 0.15),
        ("WN-FILTER-DP", 0.06),
        ("AL-ESTOP", 0.03),
    ),
    "conveyor_drive": (("AL-COMM-LOSS", 0.05), ("WN-SENSOR-RANGE", 0.05), ("AL-JAM", 0.12), ("AL-ESTOP", 0.05)),
}
"""Alarms unrelated to any fault, with their rate per day."""

CHANNEL_NAMES_ZH: Final = {"bearing_temp": "轴承", "coolant_temp": "冷却液", "motor_temp": "电机"}
CHANNEL_NAMES_EN: Final = {
    "bearing_temp": "Bearing temperature",
    "coolant_temp": "Coolant temperature",
    "motor_temp": "Motor temperature",
}


def message(code: str, lang: str, **values: str) -> str:
    """The message of ``code`` in ``lang`` with its placeholders filled."""
    entry = EVENT_CODES[code]
    return (entry.zh if lang == "zh" else entry.en).format(**values)
