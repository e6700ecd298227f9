"""The stylesheet and the language-switch script inlined into report.html (no fonts or files fetched)."""

from __future__ import annotations

# Series colours: one per horizon (s0, s1, ...); red is kept for failures, green/amber/red for health.
_SERIES = ("#1f6feb", "#8250df", "#0a7d76", "#9a6700", "#57606a", "#bc4c00")

STYLE = (
    """
:root{--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--fail:#cf222e;--ok:#1a7f37;--warn:#9a6700}
*{box-sizing:border-box}
body{margin:0;color:var(--ink);background:#fff;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",
"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif}
main{max-width:1140px;margin:0 auto;padding:8px 28px 40px}
h1{font-size:24px;margin:2px 0 4px;word-break:break-word}
h2{font-size:19px;margin:34px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:22px 0 8px}
.kicker{margin:18px 0 0;color:var(--muted);text-transform:uppercase;letter-spacing:.06em;font-size:12px}
.meta{margin:0 0 10px;color:var(--muted)}
nav{display:flex;flex-wrap:wrap;gap:6px 16px;margin:10px 0 0}
nav a{color:#0969da;text-decoration:none}
.switch{position:sticky;top:0;z-index:2;display:flex;justify-content:flex-end;gap:4px;max-width:1140px;
margin:0 auto;padding:8px 28px 0;background:linear-gradient(#fff 70%,rgba(255,255,255,0))}
.switch button{font:inherit;border:1px solid var(--line);background:#fff;border-radius:6px;padding:2px 12px;
cursor:pointer}
.switch button[aria-pressed=true]{background:var(--ink);color:#fff;border-color:var(--ink)}
.note{padding:8px 12px;border-radius:6px;margin:8px 0}
.note.info{background:#ddf4ff;border:1px solid #b6e3ff}
.note.caution{background:#fff8c5;border:1px solid #eed888}
.empty{padding:14px 16px;border:1px dashed var(--line);border-radius:6px;color:var(--muted);background:var(--soft)}
.explain{color:var(--muted);margin:4px 0 10px;max-width:980px}
.cards{display:grid;grid-template-columns:repeat(5,1fr);gap:10px;margin:12px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:var(--soft)}
.card p{margin:0}
.card-label{color:var(--muted);font-size:12.5px}
.card-value{font-size:24px;font-weight:600;margin:2px 0}
.card-value .undefined{display:block;font-size:14px;font-weight:400;line-height:1.4;margin:6px 0}
.card-note{color:var(--muted);font-size:12px}
table{border-collapse:collapse;width:100%;margin:6px 0 4px}
table.narrow{width:auto;min-width:520px}
table.narrow td:first-child{white-space:nowrap}
th,td{border-bottom:1px solid var(--line);padding:5px 9px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600;font-size:12.5px;position:sticky;top:0}
td{font-variant-numeric:tabular-nums}
table.alerts td{white-space:nowrap}
.scroll{max-height:560px;overflow:auto;border:1px solid var(--line);border-radius:6px}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;white-space:nowrap;border:1px solid}
.badge.detected{color:var(--ok);border-color:#4ac26b;background:#dafbe1}
.badge.repeat{color:#116329;border-color:#aceebb;background:#f0fff4}
.badge.false_alarm,.badge.missed{color:var(--fail);border-color:#ff8182;background:#ffebe9}
.badge.unconfirmed,.badge.outside{color:var(--muted);border-color:var(--line);background:var(--soft)}
.right{color:var(--ok)}.wrong{color:var(--fail)}
.undefined{font-style:italic;color:var(--warn)}
.undefined .reason{font-style:normal;color:var(--muted)}
figure{margin:10px 0 16px}
figcaption{font-weight:600;margin-bottom:2px}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;color:var(--muted);font-size:12.5px}
.key{display:inline-flex;align-items:center;gap:6px}
.swatch{display:inline-block;width:18px;height:10px}
.swatch.line{height:0;border-top:2px solid}
.swatch.dashed{height:0;border-top:2px dashed var(--muted)}
.swatch.dot{width:9px;height:9px;border-radius:50%;background:var(--ink)}
.swatch.failure{width:0;height:14px;border-left:2px solid var(--fail)}
.swatch.window{background:rgba(207,34,46,.12)}
.panels{display:flex;flex-wrap:wrap;gap:10px 40px}
.panel{flex:1 1 420px}
.figure-line{margin:4px 0}
details{margin:10px 0}
code{font-size:12.5px}
footer{color:var(--muted)}
svg.chart{display:block;max-width:100%;height:auto;font-size:11px}
svg .grid{stroke:#eaeef2;stroke-width:1}
svg .axis{stroke:#8c959f;stroke-width:1}
svg .tick{fill:var(--muted)}
svg .axis-label{fill:var(--ink);font-size:11.5px}
svg .chart-title{fill:var(--ink);font-weight:600;font-size:12.5px}
svg .note{fill:var(--muted);font-size:10.5px}
svg .series{fill:none;stroke-width:1.6;stroke-linejoin:round}
svg .threshold{stroke-width:1.2;stroke-dasharray:5 4}
svg .reference{stroke:#afb8c1;stroke-dasharray:3 3}
svg .alert{stroke:#fff;stroke-width:.8}
svg .failure{stroke:var(--fail);stroke-width:1.8}
svg .failure-mark{fill:var(--fail)}
svg .warn-window{fill:rgba(207,34,46,.09)}
svg .health-healthy,.swatch.health-healthy{fill:#4ac26b;background:#4ac26b}
svg .health-degrading,.swatch.health-degrading{fill:#d4a72c;background:#d4a72c}
svg .health-critical,.swatch.health-critical{fill:#cf222e;background:#cf222e}
svg .cell{fill:#0969da;stroke:#fff}
svg .cell.diagonal{fill:#1a7f37}
svg .count{fill:var(--ink);font-size:11.5px}
svg .count.dark{fill:#fff}
svg .dot{fill:#0969da;fill-opacity:.35}
svg .bar.b0{fill:#0969da}svg .bar.b1{fill:#8250df}svg .bar.b2{fill:#0a7d76}
svg .undefined-mark{fill:var(--warn);font-size:13px}
@media (max-width:900px){.cards{grid-template-columns:repeat(2,1fr)}}
@media print{.switch,nav{display:none}.scroll{max-height:none;overflow:visible}}
"""
    + "".join(
        f"svg .s{i}.series,svg .s{i}.threshold{{stroke:{c}}}svg .s{i}.alert{{fill:{c}}}"
        f"svg .s{i}.note{{fill:{c}}}.swatch.s{i}{{border-color:{c}}}"
        for i, c in enumerate(_SERIES)
    )
).replace("\n", "")

# Shows the body of one language; the address's #en / #zh (or a section link ending in -en / -zh) picks it.
SCRIPT = """
(function(){
var bodies=document.querySelectorAll("main.lang"),buttons=document.querySelectorAll("button[data-show]");
function show(lang){
  var target=null;
  bodies.forEach(function(b){if(b.getAttribute("data-lang")===lang){target=b;}});
  if(!target){return;}
  bodies.forEach(function(b){b.hidden=b!==target;});
  document.documentElement.lang=target.lang;
  buttons.forEach(function(b){b.setAttribute("aria-pressed",String(b.getAttribute("data-show")===lang));});
}
function fromAddress(){var hash=location.hash.slice(1);show(hash.slice(hash.lastIndexOf("-")+1));}
buttons.forEach(function(b){b.addEventListener("click",function(){
  var lang=b.getAttribute("data-show");show(lang);
  try{history.replaceState(null,"","#"+lang);}catch(e){}
});});
window.addEventListener("hashchange",fromAddress);
fromAddress();
})();
""".strip()
