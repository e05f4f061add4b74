package rotator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Headroom before the token. A store that keeps a bounded number of recent
// versions (Secrets Manager: a secret takes no version past 100 it cannot
// remove, and it removes none younger than 24 hours) can be too full, after
// another writer, for the writes a rotation makes. Found after the token
// exists, that leaves two tokens and a rotation that cannot record its
// progress; so a run counts the store's versions before it creates
// anything, and stops (Interrupted: the store empties by itself) when the
// room left is less than what a rotation writes.

// A rotation's store writes, from its start to its end: each is a version
// the store keeps for a day (Secrets Manager: 24 hours). Per rotation:
//
//	start               1  the record of its start (takes the lease)
//	pending token       1
//	--revoke-old        1  the request, recorded before anything acts on it
//	promote             1  the lease taken again after the waits
//	proof of use left   1  a bounded run leaving proof of use to the next run
//	delete the old one  1  the lease taken again after the quiet period
//	end                 1  the last write (gives the lease up)
//	failures            3  a transient failure is recorded alertAfterFailures times at most
//
// and per target:
//
//	write-ahead         1  Pushing, before its push
//	hand-off            1  its wait, before the run ends
//	the lease again     1  before its push, after the previous target's wait
//	confirmation left   1  a bounded run leaving its confirmation to the next run
//
// A rollback writes instead of promote, delete and end (the lease, then its
// outcome). A wait left by bounded runs (deadline.go) is written once,
// however many runs carry it, and only where the record must change for
// the next run to resume it without pushing again: a confirmation (the
// target Tested), proof of use (every target Confirmed); the quiet period
// writes at most what promote would have (the lease, with the switch
// times). The placeholder current version of an empty secret is not
// counted: the start's record becomes the first version's current.
const (
	rotationWrites = 7 + alertAfterFailures
	targetWrites   = 4
)

// writeBudget is how many store versions a rotation writes at most.
func (r *Rotator) writeBudget() int { return rotationWrites + targetWrites*len(r.Targets) }

// Quota is a store's versions against its quota.
type Quota struct {
	// Name names the store for humans ("secret NAME").
	Name string
	// Limit is how many versions the store keeps at most, Keep how long it
	// keeps a new one whatever the limit: past Limit it removes only
	// unlabelled versions older than Keep, and takes no new version when it
	// cannot remove one.
	Limit int
	Keep  time.Duration
	// Versions are every version the store holds (Stages empty: deprecated).
	Versions []VersionInfo
	// Hint says how to find the other writer (never a value).
	Hint string
}

// Headroom is how many more versions a store with a quota takes now, against
// what a rotation writes.
type Headroom struct {
	Store string `json:"store"`
	Limit int    `json:"limit"`
	// Recent are the versions created within the last 24 hours (the
	// quota's Keep): none of them can be removed.
	Recent int `json:"recentVersions"`
	// Labelled are the older versions still labelled: not removable either.
	Labelled int `json:"labelledOlder"`
	// Room is how many more versions the store takes now.
	Room int `json:"room"`
	// Needed is what a rotation writes at most (its write budget).
	Needed int `json:"rotationWrites"`
	// EnoughAt, when Room is short of Needed, is when enough recent
	// versions have aged out (zero when the labelled ones alone leave too
	// little room).
	EnoughAt time.Time `json:"enoughAt,omitzero"`
	// since is when the store last had room enough, as far as its
	// versions tell: the creation of the one that left it short.
	since time.Time
	keep  time.Duration
	hint  string
}

// Short reports that the store cannot take a whole rotation now.
func (h Headroom) Short() bool { return h.Room < h.Needed }

// headroomOf counts q's versions at now against a rotation's needed writes.
// Pure: the clock is passed in.
func headroomOf(q Quota, needed int, now time.Time) Headroom {
	h := Headroom{Store: q.Name, Limit: q.Limit, Needed: needed, keep: q.Keep, hint: q.Hint}
	var ageing []time.Time // recent and unlabelled: removable once older than Keep
	var recent []time.Time
	for _, v := range q.Versions {
		switch {
		case now.Sub(v.Created) < q.Keep:
			h.Recent++
			recent = append(recent, v.Created)
			if len(v.Stages) == 0 {
				ageing = append(ageing, v.Created)
			}
		case len(v.Stages) > 0:
			h.Labelled++
		}
	}
	free := q.Limit - h.Recent - h.Labelled // below 0 past the quota
	h.Room = max(free, 0)
	if !h.Short() {
		return h
	}
	slices.SortFunc(ageing, time.Time.Compare)
	if lack := h.Needed - free; lack <= len(ageing) {
		h.EnoughAt = ageing[lack-1].Add(q.Keep)
	}
	// The store was short since the recent version that left it so (none
	// of the recent ones has aged out since it was written).
	slices.SortFunc(recent, time.Time.Compare)
	if i := q.Limit - h.Needed - h.Labelled; i >= 0 && i < len(recent) {
		h.since = recent[i]
	} else if len(recent) > 0 {
		h.since = recent[0]
	} else {
		h.since = now
	}
	return h
}

// Words say what the headroom is, for check, status and the run's message.
func (h Headroom) Words(now time.Time) string {
	s := fmt.Sprintf("%s holds %d versions created in the last %s", h.Store, h.Recent, hours(h.keep))
	if h.Labelled > 0 {
		s += fmt.Sprintf(" and %d older ones still labelled", h.Labelled)
	}
	s += fmt.Sprintf(", of the %d it keeps: room for %d more, and a rotation writes up to %d", h.Limit, h.Room, h.Needed)
	if !h.Short() {
		return s
	}
	if h.EnoughAt.IsZero() {
		return s + "; labelled versions hold the rest of the room, so none of them ages out"
	}
	return s + fmt.Sprintf("; enough of them age out at %s (in %s)", stamp(h.EnoughAt), strings.TrimSuffix(h.EnoughAt.Sub(now).Round(time.Minute).String(), "0s"))
}

// hours prints a duration of whole hours as "24 hours".
func hours(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return d.String()
}

// headroom is the store's headroom now; ok is false for a store without a
// quota.
func (r *Rotator) headroom(ctx context.Context) (h Headroom, ok bool, err error) {
	vq, ok := r.Store.(VersionQuota)
	if !ok {
		return Headroom{}, false, nil
	}
	q, err := vq.Quota(ctx)
	if err != nil {
		return Headroom{}, true, fmt.Errorf("count the store's versions: %w", err)
	}
	return headroomOf(q, r.writeBudget(), r.Clock.Now()), true, nil
}

// headroomCheck is check's line for the store's headroom (nil without a
// quota).
func (r *Rotator) headroomCheck(ctx context.Context) *CheckResult {
	if _, ok := r.Store.(VersionQuota); !ok {
		return nil
	}
	h, err := Guard(ctx, r.Log, "store", func() (Headroom, error) {
		h, _, err := r.headroom(ctx)
		return h, err
	})
	c := &CheckResult{System: "rotation", Name: "store headroom", Level: LevelOK}
	now := r.Clock.Now()
	switch {
	case err != nil:
		c.Level, c.Detail, c.Fix = LevelFail, err.Error(), "fix the store's checks above"
	case h.Short():
		c.Level, c.Detail = LevelFail, h.Words(now)
		c.Fix = "a rotation would stop before creating its token"
		if h.hint != "" {
			c.Fix += ": " + h.hint
		}
	default:
		c.Detail = h.Words(now)
	}
	return c
}
