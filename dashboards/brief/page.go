package brief

import "html/template"

// page lays the briefing out for A4: the headline figures and the national chart on the first page, the units on the
// second, the assistant and the method after.
var page = template.Must(template.New("brief").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<title>{{.W.title}} — {{call .Day .F.Date}}</title>
<style>
@font-face { font-family: "Brief"; src: url({{.Regular}}) format("truetype"); font-weight: normal; }
@font-face { font-family: "Brief"; src: url({{.Bold}}) format("truetype"); font-weight: bold; }
@page { size: A4; margin: 16mm 15mm; }
html { font-family: "Brief", sans-serif; font-size: 10.5pt; color: #1b1b1b; }
h1 { font-size: 17pt; margin: 0 0 2mm; }
h2 { font-size: 12.5pt; margin: 6mm 0 2mm; border-bottom: 0.4mm solid #1f60c4; padding-bottom: 1mm; }
p.meta { margin: 0 0 4mm; color: #444; }
table { border-collapse: collapse; width: 100%; }
td, th { padding: 1mm 2mm; border-bottom: 0.2mm solid #ccc; text-align: left; }
td.n, th.n { text-align: right; }
.figures { display: flex; gap: 4mm; margin: 2mm 0 4mm; }
.figure { flex: 1; border: 0.3mm solid #c8d4ea; padding: 2mm 3mm; }
.figure b { display: block; font-size: 18pt; }
.second { break-before: page; }
svg { width: 100%; height: auto; }
.note { font-size: 9pt; color: #444; }
</style>
</head>
<body>
<h1>{{.W.title}}</h1>
<p class="meta">{{.W.date}} {{call .Day .F.Date}} · {{.W.since}} {{call .Day .F.Since}} · {{.W.asof}} {{call .Day .F.AsOf}} · {{len .F.Silent}} {{.W.silent_count}}</p>

<div class="figures">
<div class="figure">{{.W.coverage}}<b>{{call .Num .F.Coverage 1}}%</b>{{.W.trajectory}} {{call .Num .F.Trajectory 1}}% · {{.W.change}} {{call .Signed .Change}}</div>
<div class="figure">{{.W.full}}<b>{{.F.Full}}</b>{{.W.since}} {{call .Day .F.Since}}: {{.F.FullSince}}</div>
<div class="figure">{{.W.ontrack}} / {{.W.behind}}<b>{{.F.OnTrack}} / {{.F.Behind}}</b>{{.F.Level4}} / {{.F.Eligible}} {{.W.eligible}} {{.W.level4}}</div>
</div>

{{.CoverageChart}}

<h2>{{.W.forecast}}</h2>
<p><b>{{.Forecast}}</b> {{.W.pace}}: {{call .Num .F.CoverageBefore 1}}% → {{call .Num .F.Coverage 1}}%, {{call .Num .F.Pace 2}} {{.W.points_day}}{{if eq .F.DaysToFull .F.DaysToFull}}, {{call .Num .F.DaysToFull 0}} {{.W.days}}{{end}}.</p>

<h2>{{.W.reached}} {{call .Day .F.Since}}</h2>
<p>{{range $i, $u := .F.Reached}}{{if $i}}, {{end}}{{$u.Name}}{{else}}{{.W.none}}{{end}}</p>

<div class="second">
<h2>{{.W.furthest}}</h2>
<table>
<tr><th>{{.W.unit}}</th><th class="n">{{.W.coverage}}</th><th class="n">{{.W.trajectory}}</th><th class="n">{{.W.gap}}</th></tr>
{{range .F.Furthest}}<tr><td>{{.Name}}</td><td class="n">{{call $.Num .Coverage 1}}%</td><td class="n">{{call $.Num .Trajectory 1}}%</td><td class="n">{{call $.Signed .Gap}}</td></tr>
{{else}}<tr><td colspan="4">{{.W.none}}</td></tr>{{end}}
</table>

<h2>{{.W.silent}}</h2>
<table>
{{range .F.Silent}}<tr><td>{{.Name}}</td><td class="n">{{if eq .DaysSince .DaysSince}}{{call $.Num .DaysSince 0}} {{$.W.days}}{{else}}{{$.W.never}}{{end}}</td></tr>
{{else}}<tr><td>{{.W.none}}</td></tr>{{end}}
</table>

<h2>{{.W.assistant}}</h2>
{{.StagesChart}}

<h2>{{.W.method}}</h2>
<p class="note">{{.W.method_text}}</p>
</div>
</body>
</html>
`))
