package dossiers

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/internal/event"
)

// parseTime reads a time as exports write it, in Vietnam's time unless the text names a zone:
//
//	15/03/2021 08:30   15/03/2021 08:30:15   15/3/2021   08:30 15/03/2021   2021-03-15 08:30   2021-03-15T08:30:00+07:00
//
// or a workbook's date, Excel's serial day (44270.354…). Day before month, as Vietnam writes dates: 03/04/2021 is the
// 3rd of April. A day without a time is its first second, unless endOfDay (a due date: due any time that day), its
// last.
func parseTime(s string, endOfDay bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "/-") {
		// 36526 is 1 January 2000, 73051 1 January 2100: a number outside is no date of a dossier.
		if f < 36526 || f >= 73051 || math.IsNaN(f) {
			return time.Time{}, errors.New("is a number, not a date")
		}
		t, err := excelize.ExcelDateToTime(f, false)
		if err != nil {
			return time.Time{}, err
		}
		t = t.Round(time.Second) // a serial of a time of day is a fraction that rounds off its seconds
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, event.Vietnam), nil
	}
	fields := strings.Fields(strings.ReplaceAll(s, "T", " "))
	var date, clock string
	switch len(fields) {
	case 1:
		date = fields[0]
	case 2:
		date, clock = fields[0], fields[1]
		if strings.Contains(date, ":") {
			date, clock = clock, date
		}
	default:
		return time.Time{}, errors.New("is not a date such as 15/03/2021 or 15/03/2021 08:30")
	}
	y, m, d, err := parseDate(date)
	if err != nil {
		return time.Time{}, err
	}
	hh, mm, ss := 0, 0, 0
	if clock == "" && endOfDay {
		hh, mm, ss = 23, 59, 59
	}
	if clock != "" {
		parts := strings.Split(strings.ReplaceAll(strings.ToLower(clock), "h", ":"), ":")
		if len(parts) < 2 || len(parts) > 3 {
			return time.Time{}, fmt.Errorf("has the time %q, not one such as 08:30 or 08:30:15", clock)
		}
		nums := []*int{&hh, &mm, &ss}
		limits := []int{23, 59, 59}
		for i, p := range parts {
			if p == "" && i == 1 {
				continue // "8h" is 8:00
			}
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n > limits[i] {
				return time.Time{}, fmt.Errorf("has the time %q, not one such as 08:30 or 08:30:15", clock)
			}
			*nums[i] = n
		}
	}
	t := time.Date(y, time.Month(m), d, hh, mm, ss, 0, event.Vietnam)
	if t.Day() != d || int(t.Month()) != m {
		return time.Time{}, fmt.Errorf("has no such day: %s", date)
	}
	return t, nil
}

// parseDate reads 15/03/2021, 15-03-2021, 15.03.2021 (day first) or 2021-03-15 (year first).
func parseDate(s string) (y, m, d int, err error) {
	sep := strings.IndexAny(s, "/-.")
	if sep < 0 {
		return 0, 0, 0, errors.New("is not a date such as 15/03/2021 or 15/03/2021 08:30")
	}
	parts := strings.Split(s, string(s[sep]))
	if len(parts) != 3 {
		return 0, 0, 0, errors.New("is not a date such as 15/03/2021 or 15/03/2021 08:30")
	}
	n := make([]int, 3)
	for i, p := range parts {
		if n[i], err = strconv.Atoi(p); err != nil {
			return 0, 0, 0, errors.New("is not a date such as 15/03/2021 or 15/03/2021 08:30")
		}
	}
	switch {
	case len(parts[0]) == 4:
		y, m, d = n[0], n[1], n[2]
	case len(parts[2]) == 4:
		d, m, y = n[0], n[1], n[2]
	default:
		return 0, 0, 0, errors.New("has no four-digit year: write dates such as 15/03/2021")
	}
	if m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, 0, 0, fmt.Errorf("has no such day: %s (day first, then month)", s)
	}
	return y, m, d, nil
}

// channels are the ways exports say how a dossier came, folded (reporting.Fold).
var channels = map[string]event.Channel{
	"truc tuyen": event.ChannelOnline, "nop truc tuyen": event.ChannelOnline, "dich vu cong truc tuyen": event.ChannelOnline,
	"dvc truc tuyen": event.ChannelOnline, "dvctt": event.ChannelOnline, "qua mang": event.ChannelOnline,
	"cong dich vu cong": event.ChannelOnline, "qua cong dich vu cong": event.ChannelOnline, "online": event.ChannelOnline,
	"truc tiep": event.ChannelInPerson, "nop truc tiep": event.ChannelInPerson, "tai quay": event.ChannelInPerson,
	"mot cua": event.ChannelInPerson, "bo phan mot cua": event.ChannelInPerson, "in person": event.ChannelInPerson, "in_person": event.ChannelInPerson,
	"buu chinh": event.ChannelPost, "qua buu chinh": event.ChannelPost, "buu chinh cong ich": event.ChannelPost,
	"qua dich vu buu chinh cong ich": event.ChannelPost, "bcci": event.ChannelPost, "post": event.ChannelPost,
}

func parseChannel(s string) (event.Channel, error) {
	if c, ok := channels[reporting.Fold(s)]; ok {
		return c, nil
	}
	return "", errors.New("is not one of Trực tuyến, Trực tiếp, Bưu chính (online, in person, post)")
}

// parseFee reads whether a fee applies: có/không (as reporting.ParseEligible reads them), "Miễn phí", or the
// amount due in đồng (0 is no fee).
func parseFee(s string) (bool, error) {
	switch reporting.Fold(s) {
	case "mien phi", "khong thu phi", "khong co phi", "khong mat phi":
		return false, nil
	case "co phi", "co thu phi", "thu phi":
		return true, nil
	}
	if b, ok := reporting.ParseEligible(s); ok {
		return b, nil
	}
	digits := strings.NewReplacer(".", "", ",", "", " ", "", "đ", "", "VNĐ", "", "VND", "", "đồng", "").Replace(strings.TrimSpace(s))
	if n, err := strconv.ParseUint(digits, 10, 64); err == nil {
		return n > 0, nil
	}
	return false, errors.New("is neither có/không nor an amount in đồng")
}

// parseOnline reads whether a payment or a result was online / electronic: có/không, or the form it took.
func parseOnline(s string, col string) (bool, error) {
	switch reporting.Fold(s) {
	case "truc tuyen", "thanh toan truc tuyen", "qua mang", "chuyen khoan truc tuyen", "qua cong dich vu cong", "online",
		"dien tu", "ban dien tu", "ket qua dien tu", "electronic":
		return true, nil
	case "tien mat", "truc tiep", "tai quay", "ban giay", "giay", "buu chinh", "qua buu chinh", "paper", "cash":
		return false, nil
	}
	if b, ok := reporting.ParseEligible(s); ok {
		return b, nil
	}
	if col == colPaidOnline {
		return false, errors.New("is not có/không, Trực tuyến or Tiền mặt")
	}
	return false, errors.New("is not có/không, Bản điện tử or Bản giấy")
}
