package units

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func count(k Kind) int {
	n := 0
	for _, u := range All() {
		if u.Kind == k {
			n++
		}
	}
	return n
}

// The 2021 organisation: 63 provinces and centrally-run cities, 22 ministries and ministerial-level agencies.
func TestAllCounts(t *testing.T) {
	t.Parallel()
	if n := count(Province); n != 63 {
		t.Errorf("%d provinces, want 63", n)
	}
	if n := count(Ministry); n != 22 {
		t.Errorf("%d ministries, want 22", n)
	}
	if n := len(All()); n != 85 {
		t.Errorf("%d units, want 85", n)
	}
}

func TestCodesAreUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]Ref{}
	for _, u := range All() {
		if prev, ok := seen[u.Code]; ok {
			t.Errorf("code %q is used by %s and %s", u.Code, prev, u.Ref)
		}
		seen[u.Code] = u.Ref
	}
}

func TestProvinceCodesAreStatisticalCodes(t *testing.T) {
	t.Parallel()
	prev := ""
	for _, u := range All() {
		if u.Kind != Province {
			continue
		}
		if len(u.Code) != 2 || u.Code[0] < '0' || u.Code[0] > '9' || u.Code[1] < '0' || u.Code[1] > '9' {
			t.Errorf("%s (%s): code is not two digits", u.Ref, u.Name)
		}
		if u.Code <= prev {
			t.Errorf("%s follows %s: provinces are not in code order", u.Code, prev)
		}
		prev = u.Code
	}
	if first, last := "01", "96"; All()[0].Code != first || prev != last {
		t.Errorf("province codes run from %s to %s, want %s to %s", All()[0].Code, prev, first, last)
	}
}

func TestMinistryCodes(t *testing.T) {
	t.Parallel()
	for _, u := range All() {
		if u.Kind != Ministry {
			continue
		}
		for _, c := range u.Code {
			if c < 'A' || c > 'Z' {
				t.Errorf("%s (%s): ministry codes are upper-case letters", u.Ref, u.Name)
				break
			}
		}
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref  Ref
		name string // "" when the unit must not be found
	}{
		{Ref{Province, "01"}, "Hà Nội"},
		{Ref{Province, "19"}, "Thái Nguyên"},
		{Ref{Province, "31"}, "Hải Phòng"},
		{Ref{Province, "46"}, "Thừa Thiên Huế"},
		{Ref{Province, "48"}, "Đà Nẵng"},
		{Ref{Province, "66"}, "Đắk Lắk"},
		{Ref{Province, "77"}, "Bà Rịa - Vũng Tàu"},
		{Ref{Province, "79"}, "TP. Hồ Chí Minh"},
		{Ref{Province, "92"}, "Cần Thơ"},
		{Ref{Province, "96"}, "Cà Mau"},
		{Ref{Ministry, "BTTTT"}, "Bộ Thông tin và Truyền thông"},
		{Ref{Ministry, "BVHTTDL"}, "Bộ Văn hóa, Thể thao và Du lịch"},
		{Ref{Ministry, "UBDT"}, "Ủy ban Dân tộc"},
		{Ref{Ministry, "NHNN"}, "Ngân hàng Nhà nước Việt Nam"},
		{Ref{Ministry, "TTCP"}, "Thanh tra Chính phủ"},
		{Ref{Ministry, "VPCP"}, "Văn phòng Chính phủ"},
		// Not units.
		{Ref{Province, "03"}, ""}, // no province has 03
		{Ref{Province, "97"}, ""},
		{Ref{Province, "1"}, ""},
		{Ref{Province, "BTTTT"}, ""},
		{Ref{Ministry, "01"}, ""},
		{Ref{Ministry, "btttt"}, ""},
		{Ref{Ministry, "BHXH"}, ""}, // provides services but is not a ministry-level body
		{Ref{"district", "01"}, ""},
		{Ref{"", "01"}, ""},
		{Ref{Province, ""}, ""},
		{Ref{}, ""},
	}
	for _, tt := range tests {
		u, ok := Lookup(tt.ref)
		switch {
		case tt.name == "" && ok:
			t.Errorf("Lookup(%s) = %q, want none", tt.ref, u.Name)
		case tt.name == "":
		case !ok:
			t.Errorf("Lookup(%s) found nothing, want %q", tt.ref, tt.name)
		case u.Name != tt.name || u.Ref != tt.ref:
			t.Errorf("Lookup(%s) = %s %q, want %q", tt.ref, u.Ref, u.Name, tt.name)
		}
	}
}

// isNFCVietnamese reports whether s is valid UTF-8 with every Vietnamese letter precomposed. Every Vietnamese letter
// has a precomposed form, so in NFC a Vietnamese name holds no combining mark; a name typed or pasted in NFD
// ("a" + U+0300) would not match the same name in NFC in a lookup, a JSON document or a ClickHouse column.
func isNFCVietnamese(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.Is(unicode.Mn, r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

func TestIsNFCVietnamese(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    string
		want bool
	}{
		{"Hà Nội", true},
		{"Ha\u0300 No\u0302\u0323i", false}, // Hà Nội decomposed
		{"Đà Nẵng", true},
		{"\xffHà Nội", false},
		{"Long An", true},
	}
	for _, tt := range tests {
		if got := isNFCVietnamese(tt.s); got != tt.want {
			t.Errorf("isNFCVietnamese(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	diacritics := 0
	for _, u := range All() {
		if !isNFCVietnamese(u.Name) {
			t.Errorf("%s: name %q is not valid UTF-8 in NFC", u.Ref, u.Name)
		}
		if u.Name != strings.TrimSpace(u.Name) || strings.Contains(u.Name, "  ") {
			t.Errorf("%s: name %q has stray spaces", u.Ref, u.Name)
		}
		if strings.ContainsRune(u.Name, '?') {
			t.Errorf("%s: name %q holds '?', a sign of lost diacritics", u.Ref, u.Name)
		}
		if u.Kind == Ministry && !strings.HasPrefix(u.Name, "Bộ ") {
			switch u.Code {
			case "UBDT", "NHNN", "TTCP", "VPCP":
			default:
				t.Errorf("%s: ministry name %q does not start with Bộ", u.Ref, u.Name)
			}
		}
		for _, r := range u.Name {
			if r > unicode.MaxASCII {
				diacritics++
				break
			}
		}
	}
	// A few names have none (Long An, Gia Lai, Kon Tum, An Giang); nearly all do.
	if diacritics < 80 {
		t.Errorf("only %d names have diacritics: were they stripped?", diacritics)
	}
}

// Codes are NATS subject tokens: egov.<kind>.<code>.… .
func TestCodesAreSubjectTokens(t *testing.T) {
	t.Parallel()
	for _, u := range All() {
		if !validCode(u.Code) {
			t.Errorf("%s: validCode refuses the code", u.Ref)
		}
		if u.Code == "" || strings.ContainsAny(u.Code, ".*> \t\r\n") {
			t.Errorf("%s: code %q is not a NATS subject token", u.Ref, u.Code)
		}
		for _, r := range u.Code {
			if r > unicode.MaxASCII {
				t.Errorf("%s: code %q is not ASCII", u.Ref, u.Code)
			}
		}
		if !u.Kind.Valid() || strings.ContainsAny(string(u.Kind), ".*> ") {
			t.Errorf("%s: kind %q is not a NATS subject token", u.Ref, u.Kind)
		}
	}
}

func TestAllReturnsACopy(t *testing.T) {
	t.Parallel()
	us := All()
	us[0].Name = "changed"
	if u, _ := Lookup(us[0].Ref); u.Name == "changed" {
		t.Error("changing what All returned changed the reference data")
	}
}

func TestRefString(t *testing.T) {
	t.Parallel()
	if s := (Ref{Province, "79"}).String(); s != "province/79" {
		t.Errorf("String() = %q, want province/79", s)
	}
	if s := (Ref{Ministry, "BTTTT"}).String(); s != "ministry/BTTTT" {
		t.Errorf("String() = %q, want ministry/BTTTT", s)
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	const header = "kind,code,name,lat,lon,cadence_days\n"
	week := 7 * 24 * time.Hour
	hanoi := Unit{Ref{Province, "01"}, "Hà Nội", &LatLon{21.028, 105.854}, week}
	tests := []struct {
		name string
		csv  string
		// msg is a part of the error; "" when parse must succeed.
		msg  string
		want []Unit
	}{
		{
			name: "valid",
			csv:  header + "province,01,Hà Nội,21.028,105.854,7\nministry,BTTTT,Bộ Thông tin và Truyền thông,,,7\nministry,BVHTTDL,\"Bộ Văn hóa, Thể thao và Du lịch\",,,14\n",
			want: []Unit{
				hanoi,
				{Ref{Ministry, "BTTTT"}, "Bộ Thông tin và Truyền thông", nil, week},
				{Ref{Ministry, "BVHTTDL"}, "Bộ Văn hóa, Thể thao và Du lịch", nil, 2 * week},
			},
		},
		{name: "header only", csv: header},
		{name: "same code in two kinds", csv: header + "province,01,Hà Nội,21.028,105.854,7\nministry,01,Bộ Một,,,7\n",
			want: []Unit{hanoi, {Ref{Ministry, "01"}, "Bộ Một", nil, week}}},
		{name: "empty file", csv: "", msg: "header must be kind,code,name,lat,lon,cadence_days"},
		{name: "header in another order", csv: "code,kind,name,lat,lon,cadence_days\n01,province,Hà Nội,21,105,7\n", msg: "header must be"},
		{name: "header in capitals", csv: "Kind,Code,Name,Lat,Lon,Cadence_days\n", msg: "header must be"},
		{name: "old header", csv: "kind,code,name\nprovince,01,Hà Nội\n", msg: "wrong number of fields"},
		{name: "no header", csv: "province,01,Hà Nội,21.028,105.854,7\n", msg: "header must be"},
		{name: "header with a byte order mark", csv: "\ufeff" + header, msg: "header must be"},
		{name: "unknown kind", csv: header + "province,01,Hà Nội,21,105,7\ndistrict,001,Ba Đình,21,105,7\n", msg: `row 3: unknown kind "district"`},
		{name: "kind in capitals", csv: header + "Province,01,Hà Nội,21,105,7\n", msg: `row 2: unknown kind "Province"`},
		{name: "duplicate", csv: header + "province,01,Hà Nội,21,105,7\nprovince,02,Hà Giang,22,105,7\nprovince,01,Hà Nội,21,105,7\n", msg: "row 4: duplicate unit province/01"},
		{name: "empty name", csv: header + "province,01,,21,105,7\n", msg: "row 2: empty name"},
		{name: "blank name", csv: header + "province,01, ,21,105,7\n", msg: "row 2: empty name"},
		{name: "empty code", csv: header + "province,,Hà Nội,21,105,7\n", msg: `row 2: code ""`},
		{name: "code with a dot", csv: header + "province,01.1,Hà Nội,21,105,7\n", msg: `row 2: code "01.1"`},
		{name: "code in lower case", csv: header + "ministry,btttt,Bộ Thông tin và Truyền thông,,,7\n", msg: `row 2: code "btttt" must be upper-case letters and digits`},
		{name: "code with mixed case", csv: header + "ministry,BTttt,Bộ Thông tin và Truyền thông,,,7\n", msg: `row 2: code "BTttt"`},
		{name: "code with a space", csv: header + "province,0 1,Hà Nội,21,105,7\n", msg: `row 2: code "0 1"`},
		{name: "code with a wildcard", csv: header + "province,*,Hà Nội,21,105,7\n", msg: `row 2: code "*"`},
		{name: "code with diacritics", csv: header + "ministry,BỘ,Bộ,,,7\n", msg: `row 2: code "BỘ"`},
		{name: "province without a location", csv: header + "province,01,Hà Nội,,,7\n", msg: "row 2: province 01 has no lat/lon"},
		{name: "location outside Vietnam", csv: header + "province,01,Hà Nội,48.85,2.35,7\n", msg: "outside Vietnam"},
		{name: "lat and lon swapped", csv: header + "province,01,Hà Nội,105.854,21.028,7\n", msg: "outside Vietnam"},
		{name: "location not a number", csv: header + "province,01,Hà Nội,21°N,105,7\n", msg: "not decimal degrees"},
		{name: "no cadence", csv: header + "province,01,Hà Nội,21,105,\n", msg: `cadence_days ""`},
		{name: "cadence of zero days", csv: header + "province,01,Hà Nội,21,105,0\n", msg: `cadence_days "0"`},
		{name: "too few fields", csv: header + "province,01\n", msg: "wrong number of fields"},
		{name: "too many fields", csv: header + "province,01,Hà,Nội,21,105,7\n", msg: "wrong number of fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parse(strings.NewReader(tt.csv))
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("parse = %v, want %v", got, tt.want)
				}
				for i := range got {
					if !reflect.DeepEqual(got[i], tt.want[i]) {
						t.Errorf("unit %d = %v, want %v", i, got[i], tt.want[i])
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("parse = %v, want an error saying %q", got, tt.msg)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q, want it to say %q", err, tt.msg)
			}
		})
	}
}

// Every province is on the map, inside Vietnam, and north of the provinces whose codes come well after it: the
// statistical codes run roughly from north to south.
func TestLocations(t *testing.T) {
	t.Parallel()
	var provinces []Unit
	for _, u := range All() {
		switch {
		case u.Kind == Province && u.Location == nil:
			t.Errorf("%s has no location", u.Ref)
		case u.Kind == Ministry && u.Location != nil:
			t.Errorf("%s has a location; ministries are not drawn on the map", u.Ref)
		case u.Kind == Province:
			provinces = append(provinces, u)
		}
		if u.Cadence < 24*time.Hour || u.Cadence > 31*24*time.Hour {
			t.Errorf("%s is expected to report every %s", u.Ref, u.Cadence)
		}
	}
	north, south := provinces[:20], provinces[len(provinces)-20:] // Hà Nội … Hải Phòng; Bình Dương … Cà Mau
	for _, n := range north {
		for _, s := range south {
			if n.Location.Lat <= s.Location.Lat {
				t.Errorf("%s (%s, lat %.2f) is not north of %s (%s, lat %.2f)", n.Name, n.Code, n.Location.Lat, s.Name, s.Code, s.Location.Lat)
			}
		}
	}
}
