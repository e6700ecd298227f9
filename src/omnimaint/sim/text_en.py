"""English work-order phrasings (technician's words, never the fault-type identifiers).

Placeholders: ``{machine}``, ``{rotor}`` and ``{cooler}`` name the type-specific parts; ``{vib}``,
``{temp}`` and ``{slip}`` are readings at the time of the order.
"""

from __future__ import annotations

from typing import Final

PARTS: Final = {
    "centrifugal_pump": {"machine": "pump", "rotor": "impeller", "cooler": "motor fan"},
    "cnc_spindle": {"machine": "spindle", "rotor": "spindle rotor", "cooler": "coolant chiller"},
    "conveyor_drive": {"machine": "conveyor drive", "rotor": "drive pulley", "cooler": "motor fan"},
}

CORRECTIVE: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "bearing_wear": {
        "problem": (
            "Noisy bearing at drive end, high vibration",
            "Grinding noise from DE bearing, {machine} tripped on vibration",
            "Bearing running rough and hot, vib {vib} mm/s",
            "Loud rumbling from bearing housing, machine stopped",
            "Excessive vibration and noise from motor drive end bearing",
        ),
        "cause": (
            "Outer race spalled, grease degraded",
            "Bearing fatigue - pitting on outer ring",
            "Lack of lubrication, race damaged",
            "Contaminated grease, outer race worn through",
            "Bearing at end of life",
        ),
        "action": (
            "Replaced DE bearing and regreased",
            "Changed bearing, checked shaft fit, test run OK",
            "Replaced both bearings and seals, greased, vibration back to normal",
            "Fitted new bearing, checked housing for wear",
        ),
    },
    "imbalance": {
        "problem": (
            "High vibration at running speed",
            "{machine} shaking badly, vibration 1x high",
            "Rotor out of balance, vib {vib} mm/s",
            "Strong vibration felt on base frame",
        ),
        "cause": (
            "Buildup on {rotor} causing imbalance",
            "Lost balance weight on {rotor}",
            "{rotor} fouled and eroded",
        ),
        "action": (
            "Cleaned {rotor} and rebalanced",
            "Field balanced, vibration reduced to normal",
            "Replaced {rotor}, balanced in place",
        ),
    },
    "misalignment": {
        "problem": (
            "Vibration high at coupling, axial movement",
            "Coupling worn and noisy, vibration 2x high",
            "Coupling insert broken, {machine} vibrating",
        ),
        "cause": (
            "Shaft misalignment after soft foot",
            "Coupling misaligned, base bolts loose",
            "Motor moved on base, alignment lost",
        ),
        "action": (
            "Laser aligned motor to {machine}, shimmed",
            "Realigned shafts, replaced coupling insert, torqued base bolts",
            "Corrected alignment, fixed soft foot",
        ),
    },
    "overheating": {
        "problem": (
            "Motor running very hot, overtemperature trip",
            "High temperature alarm, housing discoloured, smell of burning",
            "Ran far too hot, smoke seen near housing",
            "Temp {temp} C at housing, machine stopped",
        ),
        "cause": (
            "{cooler} blocked with dust, no airflow",
            "{cooler} failed",
            "Cooling fins clogged, poor heat transfer",
            "Cooling flow too low, filter blocked",
        ),
        "action": (
            "Cleaned {cooler} and fins, replaced fan",
            "Replaced {cooler}, flushed cooling circuit",
            "Cleaned cooling passages, new filter, checked temperature under load",
        ),
    },
    "seal_leak": {
        "problem": (
            "Leak at pump seal, water on floor",
            "Mechanical seal leaking badly",
            "Large puddle under {machine}, seal dripping",
            "Fluid spraying from seal area",
        ),
        "cause": (
            "Mechanical seal faces worn",
            "Seal O-ring hardened and cracked",
            "Dry running damaged the seal",
            "Seal faces scored by debris",
        ),
        "action": (
            "Replaced mechanical seal, cleaned up spill",
            "Fitted new seal kit, checked shaft sleeve",
            "New seal and O-rings, leak test OK",
        ),
    },
    "belt_wear": {
        "problem": (
            "Belt slipping and running off track",
            "Belt edge badly frayed, belt slip alarm",
            "Belt running to one side, torn edge",
            "Belt slip {slip}%, product not moving",
        ),
        "cause": (
            "Belt worn out, tension low",
            "Tracking misadjusted, edge worn on frame",
            "Lagging worn on {rotor}",
        ),
        "action": (
            "Replaced belt, adjusted tracking and tension",
            "New belt fitted, realigned idlers",
            "Replaced belt and relagged {rotor}",
        ),
    },
    "electrical_fault": {
        "problem": (
            "Motor tripping on overcurrent, will not restart",
            "Repeated trips, earth fault warning, motor stopped",
            "Drive fault, motor tripped and smells burnt",
            "Motor protection relay tripped several times",
        ),
        "cause": (
            "Insulation breakdown in motor winding",
            "Loose terminal in junction box, arcing marks",
            "Damaged cable, moisture in terminal box",
            "Winding to earth fault",
        ),
        "action": (
            "Replaced motor",
            "Re-terminated cables, megger test OK",
            "Replaced motor and cable gland, dried terminal box",
            "Motor sent for rewind, spare motor fitted",
        ),
    },
}

FOUND: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "bearing_wear": {
        "problem": ("Slight bearing noise on route, vibration trending up", "DE bearing sounds rough with stethoscope"),
        "cause": ("Early outer race wear", "Grease dry, race starting to mark"),
        "action": ("Replaced bearing before failure", "Changed DE bearing as precaution, regreased"),
    },
    "imbalance": {
        "problem": ("Vibration slightly high at running speed", "{rotor} dirty, some vibration"),
        "cause": ("Deposits on {rotor}",),
        "action": ("Cleaned and balanced {rotor}",),
    },
    "misalignment": {
        "problem": ("Coupling warm, alignment out of tolerance",),
        "cause": ("Misalignment, base bolts loosening",),
        "action": ("Realigned and torqued base bolts",),
    },
    "overheating": {
        "problem": ("Housing warmer than usual, {cooler} noisy", "Temperature high for the load"),
        "cause": ("{cooler} partly blocked", "Dust buildup on fins"),
        "action": ("Cleaned {cooler}, replaced fan", "Cleaned fins and filter"),
    },
    "seal_leak": {
        "problem": ("Small drip at seal, wet patch on floor", "Seal weeping"),
        "cause": ("Seal faces starting to wear",),
        "action": ("Replaced mechanical seal before it got worse",),
    },
    "belt_wear": {
        "problem": ("Belt edge starting to fray, tracking slightly off",),
        "cause": ("Belt wear, tracking drifted",),
        "action": ("Replaced belt, adjusted tracking",),
    },
    "electrical_fault": {
        "problem": ("Terminal box warm, insulation reading low",),
        "cause": ("Insulation degrading, loose terminal",),
        "action": ("Re-terminated, dried out, megger test OK",),
    },
}

PREVENTIVE: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "bearing": {
        "problem": ("Preventive maintenance: bearing lubrication", "Scheduled regrease"),
        "action": ("Regreased bearings, checked vibration and temperature - OK", "Lubricated DE and NDE bearings"),
    },
    "rotor": {
        "problem": ("Preventive maintenance: alignment and balance check", "Scheduled coupling check"),
        "action": ("Checked alignment and coupling, within tolerance", "Alignment checked, base bolts torqued"),
    },
    "cooling": {
        "problem": ("Preventive maintenance: cooling system", "Scheduled clean of {cooler}"),
        "action": ("Cleaned {cooler} and fins", "Cleaned filter and checked cooling flow"),
    },
    "seal": {
        "problem": ("Preventive maintenance: seal inspection",),
        "action": ("Checked seal, no leaking, flush line OK", "Inspected seal area, dry"),
    },
    "belt": {
        "problem": ("Preventive maintenance: belt tension and tracking",),
        "action": ("Checked belt tension and tracking, adjusted", "Belt condition OK, tension set"),
    },
    "motor": {
        "problem": ("Preventive maintenance: motor electrical check",),
        "action": ("Megger test OK, terminals checked and tightened", "Checked motor current and connections"),
    },
}

ROUTINE: Final = {
    "problem": ("Routine inspection", "Operator round", "Weekly inspection of {machine}"),
    "action": ("All OK", "No abnormality found", "Checked noise, leaks and temperature - nothing found", "OK"),
}

POOR_REPAIR: Final = (
    "temporary fix, no spare in stock",
    "reused old parts, new ones on order",
    "quick fix to restart the line",
    "aligned by eye, recheck later",
)

DETAIL: Final = ("vib {vib} mm/s", "temp {temp} C", "ran 1 h after, OK", "told shift lead", "parts from store")
