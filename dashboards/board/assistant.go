package board

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/geomap"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/egovtrack/egovtrack/dashboards/chquery"
)

// Assistant follows the rollout of the virtual assistant for civil servants that the mid-year review asked to put
// into operation: how many units are at each stage over time, every unit's path through the stages, and a map of the
// provinces by stage.
func Assistant() (dashboard.Dashboard, error) {
	return finish(newDashboard(AssistantUID,
		"Triển khai trợ lý ảo cho cán bộ, công chức: số đơn vị theo giai đoạn, tiến trình từng đơn vị, bản đồ tỉnh, "+
			"thành phố. The virtual assistant for civil servants: units by stage, each unit's path, the provinces' map.",
		"assistant").
		WithPanel(stagesNow()).
		WithPanel(stagesChart()).
		WithPanel(dataTable(3, "Show the data: units by stage per day",
			"The numbers behind the chart, latest day first: ministries and provinces at each stage at the end of "+
				"each Vietnamese day. Số đơn vị theo giai đoạn, theo ngày.",
			stagesTableSQL).
			Span(10).
			OverrideByName("date", column("Day (Vietnam)", "string")).
			OverrideByName("not_started", column("Not started", "none")).
			OverrideByName("planned", column("Planned", "none")).
			OverrideByName("pilot", column("Pilot", "none")).
			OverrideByName("live", column("Live", "none"))).
		WithPanel(stageMap()).
		WithPanel(dataTable(5, "Show the data: every unit's stage",
			"Every ministry and province with its virtual assistant's stage at the end of the time range, since when, "+
				"and how many civil servants use it when reported; the furthest along first. Click a unit to open its "+
				"dashboard. Giai đoạn của từng đơn vị.",
			unitStagesSQL).
			Span(12).
			Height(16).
			OverrideByName("name", column("Bộ, ngành, địa phương / unit", "string", unitLink("ref"))).
			OverrideByName("kind", column("Kind", "string", mappingsProperty(kindLabels))).
			OverrideByName("ref", column("Code", "string")).
			OverrideByName("stage", column("Stage", "string", mappingsProperty(stageNameLabels), colouredCells())).
			OverrideByName("since", column("Since", "dateTimeAsLocal")).
			OverrideByName("users", column("Users", "none"))).
		WithPanel(stageTimeline()).
		Build())
}

// fixedColour gives a series one colour.
func fixedColour(color string) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "color", Value: map[string]any{"fixedColor": color, "mode": "fixed"}}
}

// stageSeries are the stage columns of the counts, in rollout order, with their names and colours.
var stageSeries = []struct{ column, name, color string }{
	{"not_started", "Chưa bắt đầu / not started", "#c4c4c4"},
	{"planned", "Kế hoạch / planned", "blue"},
	{"pilot", "Thí điểm / pilot", "orange"},
	{"live", "Vận hành / live", "green"},
}

func stagesNow() *stat.PanelBuilder {
	p := count(1, "Units by stage now",
		"Ministries and provinces at each stage of the virtual assistant's rollout at the end of the time range: "+
			"not started, planned, pilot, live (in operation). Units that reported no stage are not counted. Số đơn vị "+
			"theo giai đoạn.",
		stagesNowSQL).
		Span(24).
		Height(4).
		TextMode(common.BigValueTextModeValueAndName)
	for _, s := range stageSeries {
		p.OverrideByName(s.column, []dashboard.DynamicConfigValue{displayName(s.name), fixedColour(s.color)})
	}
	return p
}

func stagesChart() *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().
		Id(2).
		Title("Units by stage over time").
		Description("Ministries and provinces at each stage of the rollout at the end of each Vietnamese day, stacked: " +
			"the green band is the units in operation. Số đơn vị theo giai đoạn theo thời gian.").
		Datasource(chquery.Ref(datasourceRef)).
		WithTarget(query("A", stagesSeriesSQL).TimeSeries()).
		Height(10).
		Span(14).
		Unit("none").
		Decimals(0).
		Min(0).
		LineWidth(1).
		FillOpacity(60).
		ShowPoints(common.VisibilityModeNever).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal).Group("A")).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderNone))
	for _, s := range stageSeries {
		p.OverrideByName(s.column, []dashboard.DynamicConfigValue{displayName(s.name), fixedColour(s.color)})
	}
	return p
}

// stageThresholds colour a stage's rank (see stageLabels).
func stageThresholds() *dashboard.ThresholdsConfigBuilder {
	return thresholds(
		step("#8e8e8e", nil),
		step("#c4c4c4", cog.ToPtr(0.0)),
		step("blue", cog.ToPtr(1.0)),
		step("orange", cog.ToPtr(2.0)),
		step("green", cog.ToPtr(3.0)))
}

func stageMap() *geomap.PanelBuilder {
	return geomap.NewPanelBuilder().
		Id(4).
		Title("Provinces by stage").
		Description("Each province and centrally-run city at its capital, coloured by its virtual assistant's stage at " +
			"the end of the time range: grey not reported or not started, blue planned, orange pilot, green live. " +
			"Ministries, all in Hà Nội, are in the table beside it. Bản đồ tỉnh, thành phố theo giai đoạn.").
		Datasource(chquery.Ref(datasourceRef)).
		WithTarget(query("A", stageMapSQL).Table()).
		Height(16).
		Span(12).
		Unit("none").
		Decimals(0).
		Mappings(valueMappings(stageLabels)).
		Thresholds(stageThresholds()).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		View(geomap.NewMapViewConfigBuilder().Id("coords").Lat(16).Lon(106).Zoom(5)).
		Controls(geomap.NewControlsOptionsBuilder().ShowZoom(true).MouseWheelZoom(false).ShowAttribution(true)).
		Basemap(common.NewMapLayerOptionsBuilder().Type("default").Name("Basemap")).
		Layers([]cog.Builder[common.MapLayerOptions]{
			common.NewMapLayerOptionsBuilder().
				Type("markers").
				Name("Tỉnh, thành phố / provinces").
				Location(common.NewFrameGeometrySourceBuilder().
					Mode(common.FrameGeometrySourceModeCoords).
					Latitude("lat").
					Longitude("lon")).
				Tooltip(true).
				// The layer's options have no type in the SDK: maps, so that they encode the same after a round trip.
				Config(map[string]any{
					"showLegend": true,
					"style": map[string]any{
						"color":   map[string]any{"field": "stage", "fixed": "dark-green"},
						"opacity": 0.9,
						"size":    map[string]any{"fixed": 8},
						"symbol":  map[string]any{"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
					},
				}),
		}).
		Tooltip(geomap.NewTooltipOptionsBuilder().Mode(geomap.TooltipModeDetails))
}

func stageTimeline() *statetimeline.PanelBuilder {
	return statetimeline.NewPanelBuilder().
		Id(6).
		Title("Every unit's path through the stages").
		Description("One row per ministry and province: its virtual assistant's stage at the end of each Vietnamese " +
			"day within the time range (grey not started, blue planned, orange pilot, green live); empty before its " +
			"first report. Tiến trình triển khai của từng đơn vị.").
		Datasource(chquery.Ref(datasourceRef)).
		WithTarget(query("A", stageTimelineSQL).TimeSeries()).
		Height(40).
		Span(24).
		// The plugin turns the long result (time, unit, stage) into one series per unit, labelled by unit.
		DisplayName("${__field.labels.unit}").
		Unit("none").
		Mappings(valueMappings(stageLabels)).
		Thresholds(stageThresholds()).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		ShowValue(common.VisibilityModeNever).
		RowHeight(0.8).
		MergeValues(true).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeSingle).Sort(common.SortOrderNone))
}

// rangeDays is every Vietnamese day of the time range, as an array.
const rangeDays = `arrayMap(i -> toDate($__fromTime, 'Asia/Ho_Chi_Minh') + i,
        range(toUInt64(dateDiff('day', toDate($__fromTime, 'Asia/Ho_Chi_Minh'), toDate($__toTime, 'Asia/Ho_Chi_Minh')) + 1)))`

// stageByDay is every unit's stage at the end of every Vietnamese day of the range: its latest change on or before
// that day. A unit has no row before its first change. Its columns: on_day, unit_kind, unit_code, day_stage.
const stageByDay = `(
    SELECT
        on_day,
        unit_kind,
        unit_code,
        argMax(stage, (effective_at, stream_seq)) AS day_stage
    FROM assistant_changes FINAL
    ARRAY JOIN ` + rangeDays + ` AS on_day
    WHERE day <= on_day
    GROUP BY on_day, unit_kind, unit_code
)`

// stageCounts counts the units of each stage in a column of stages.
func stageCounts(column string) string {
	return `countIf(` + column + ` = 'not_started') AS not_started,
    countIf(` + column + ` = 'planned') AS planned,
    countIf(` + column + ` = 'pilot') AS pilot,
    countIf(` + column + ` = 'live') AS live`
}

// stagesNowSQL: the units at each stage at the end of the time range.
var stagesNowSQL = `SELECT
    ` + stageCounts("current_stage") + `
FROM ` + stageNow

// stagesSeriesSQL: the units at each stage at the end of each day.
var stagesSeriesSQL = `SELECT
    toDateTime(on_day, 'Asia/Ho_Chi_Minh') AS time,
    ` + stageCounts("day_stage") + `
FROM ` + stageByDay + `
GROUP BY on_day
ORDER BY time`

// stagesTableSQL: the numbers of the chart, latest day first.
var stagesTableSQL = `SELECT
    toString(on_day) AS date,
    ` + stageCounts("day_stage") + `
FROM ` + stageByDay + `
GROUP BY on_day
ORDER BY on_day DESC`

// stageRank is a unit's stage as a number (see stageLabels): -1 when it reported none.
const stageRank = `if(has_stage = 0, -1, toInt8(current_stage))`

// stageMapSQL: the provinces at their capitals with their stage at the end of the range.
const stageMapSQL = `SELECT
    name,
    lat,
    lon,
    ` + stageRank + ` AS stage
FROM
(
    SELECT
        concat(kind, '/', code) AS ref,
        name,
        lat,
        lon
    FROM units FINAL
    WHERE kind = 'province'
) AS provinces
ANY LEFT JOIN
` + stageNow + ` AS stages USING ref
ORDER BY name, ref`

// unitStagesSQL: every unit with its stage at the end of the range, the furthest along first.
const unitStagesSQL = `SELECT
    name,
    kind,
    ref,
    if(has_stage = 0, '` + stageNotReported + `', toString(current_stage)) AS stage,
    if(has_stage = 0, NULL, stage_since) AS since,
    stage_users AS users
FROM ` + UnitNames + ` AS names
ANY LEFT JOIN
` + stageNow + ` AS stages USING ref
ORDER BY ` + stageRank + ` DESC, name, ref`

// stageTimelineSQL: every unit's stage at the end of every day, as numbers, labelled with the unit's name. The
// plugin turns these long rows into one series per unit.
const stageTimelineSQL = `SELECT
    toDateTime(on_day, 'Asia/Ho_Chi_Minh') AS time,
    name AS unit,
    toInt8(day_stage) AS stage
FROM
(
    SELECT
        on_day,
        concat(unit_kind, '/', unit_code) AS ref,
        day_stage
    FROM ` + stageByDay + `
) AS unit_days
ANY LEFT JOIN
` + UnitNames + ` AS names USING ref
ORDER BY time, unit`
