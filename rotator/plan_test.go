package rotator

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestDecide is the decision table of plan.go, row by row, on data only.
func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	const endpoint = "https://scim.us-east-1.amazonaws.com/t/scim/v2/"
	tok := func(id string, created time.Time) TokenInfo {
		return TokenInfo{ID: id, Created: created, Expires: created.AddDate(1, 0, 0)}
	}
	old := tok("old", now.AddDate(0, -11, -10))  // inside rotateBefore
	fresh := tok("fresh", now.AddDate(0, -2, 0)) // not due
	newer := tok("new", now.Add(-time.Hour))
	expired := tok("expired", now.AddDate(-1, 0, -3))
	rec := func(ti TokenInfo, version string) *Record {
		return &Record{Token: Token{TokenInfo: ti, Value: NewSecret("v-" + ti.ID)}, SCIMEndpoint: endpoint, VersionID: version}
	}
	progress := func(phase Phase, newID string, pre ...string) *Progress {
		return &Progress{RotationID: "rot-1", Phase: phase, NewTokenID: newID, OldTokenID: "old", PreexistingTokenIDs: pre}
	}
	tenant := Tenant{ID: "t", SCIMEndpoint: endpoint}

	for _, tc := range []struct {
		name   string
		obs    Observed
		pol    Policy
		action Action
		reason Reason
		cause  Cause
		check  func(t *testing.T, p Plan)
	}{
		{name: "not due", obs: Observed{Tokens: []TokenInfo{fresh}},
			action: ActionNone, reason: ReasonNotDue, cause: CauseNotDue},
		{name: "due by window", obs: Observed{Tokens: []TokenInfo{old}},
			action: ActionStart, cause: CauseInWindow,
			check: func(t *testing.T, p Plan) {
				if p.OldTokenID != "old" || len(p.Delete) != 0 || p.LiveKnown {
					t.Fatalf("%+v", p)
				}
			}},
		{name: "--now", obs: Observed{Tokens: []TokenInfo{fresh}}, pol: Policy{Now: true},
			action: ActionStart, cause: CauseRequested},
		{name: "no token at all", obs: Observed{},
			action: ActionStart, cause: CauseNoToken},
		{name: "recorded current gone", obs: Observed{Tokens: []TokenInfo{fresh}, Store: StoreState{Current: rec(old, "v1")}},
			action: ActionStart, cause: CauseCurrentGone},
		{name: "two tokens, neither recorded", obs: Observed{Tokens: []TokenInfo{old, fresh}},
			action: ActionBlocked, reason: ReasonBlocked, cause: CauseTwoUnrecorded,
			check: func(t *testing.T, p Plan) {
				if len(p.Candidates) != 2 || len(p.Delete) != 0 {
					t.Fatalf("%+v", p)
				}
			}},
		{name: "two unrecorded tokens, one used in 90 days: the unused one goes (R4)",
			obs:    Observed{Tokens: []TokenInfo{old, fresh}, Usage: map[string]TokenUse{"old": {TokenID: "old", Calls: 3}}},
			action: ActionStart, cause: CauseInWindow,
			check: func(t *testing.T, p Plan) {
				if len(p.Delete) != 1 || p.Delete[0].ID != "fresh" || p.Delete[0].Why != DeleteUnused || p.OldTokenID != "old" || p.Live.ID != "old" {
					t.Fatalf("%+v", p)
				}
			}},
		{name: "two unrecorded tokens, the used one not due: the live one is the used one (R4)",
			obs:    Observed{Tokens: []TokenInfo{old, fresh}, Usage: map[string]TokenUse{"fresh": {TokenID: "fresh", Calls: 3}}},
			action: ActionNone, reason: ReasonNotDue, cause: CauseNotDue,
			check: func(t *testing.T, p Plan) {
				if p.Live.ID != "fresh" {
					t.Fatalf("live %+v", p.Live)
				}
			}},
		{name: "two unrecorded tokens, both used: blocked naming who used which",
			obs: Observed{Tokens: []TokenInfo{old, fresh}, Usage: map[string]TokenUse{
				"fresh": {TokenID: "fresh", Calls: 3, Clients: []ClientUse{{UserAgent: "Okta SCIM Client 1.0.0", SourceIP: "1.2.3.4", Calls: 3}}},
				"old":   {TokenID: "old", Calls: 1, Clients: []ClientUse{{UserAgent: "sync-job/1.0", SourceIP: "5.6.7.8", Calls: 1}}}}},
			action: ActionBlocked, reason: ReasonBlocked, cause: CauseTwoUnrecorded,
			check: func(t *testing.T, p Plan) {
				if !strings.Contains(p.Message(), "Okta SCIM Client 1.0.0") || !strings.Contains(p.Message(), "sync-job/1.0") {
					t.Fatalf("the words must name who used which: %s", p.Message())
				}
			}},
		{name: "two unrecorded tokens, the unused one younger than a day: blocked",
			obs:    Observed{Tokens: []TokenInfo{old, newer}, Usage: map[string]TokenUse{"old": {TokenID: "old", Calls: 1}}},
			action: ActionBlocked, reason: ReasonBlocked, cause: CauseTwoUnrecorded},
		{name: "two tokens, one recorded: the other goes", obs: Observed{Tokens: []TokenInfo{old, fresh}, Store: StoreState{Current: rec(old, "v1")}},
			action: ActionStart, cause: CauseInWindow,
			check: func(t *testing.T, p Plan) {
				want := []Deletion{{ID: "fresh", Why: DeleteNotLive, CurrentID: "old"}}
				if !reflect.DeepEqual(p.Delete, want) || p.OldTokenID != "old" || !p.LiveKnown {
					t.Fatalf("%+v", p)
				}
			}},
		{name: "two tokens, one expired: it goes", obs: Observed{Tokens: []TokenInfo{expired, old}},
			action: ActionStart, cause: CauseInWindow,
			check: func(t *testing.T, p Plan) {
				if len(p.Delete) != 1 || p.Delete[0].ID != "expired" || p.Delete[0].Why != DeleteExpired || p.OldTokenID != "old" {
					t.Fatalf("%+v", p)
				}
			}},
		{name: "orphan of a killed create goes", obs: Observed{Tokens: []TokenInfo{old, newer}, Store: StoreState{Progress: &Progress{RotationID: "rot-1", Phase: PhaseCreating, StartedAt: now.Add(-2 * time.Hour), OldTokenID: "old", PreexistingTokenIDs: []string{"old"}}}},
			action: ActionStart, cause: CauseInWindow,
			check: func(t *testing.T, p Plan) {
				if len(p.Delete) != 1 || p.Delete[0].Why != DeleteOrphan || p.Delete[0].ID != "new" || p.OldTokenID != "old" {
					t.Fatalf("%+v", p)
				}
			}},
		{name: "a planted Creating record cannot make the live token an orphan",
			obs:    Observed{Tokens: []TokenInfo{old}, Store: StoreState{Progress: &Progress{RotationID: "rot-x", Phase: PhaseCreating, StartedAt: now.AddDate(-2, 0, 0)}}},
			action: ActionBlocked, reason: ReasonBlocked, cause: CauseUntrustedRecord,
			check: wantDistrust(TrustOrphans)},
		{name: "a token older than the Creating record is no orphan",
			obs:    Observed{Tokens: []TokenInfo{old, fresh}, Store: StoreState{Progress: &Progress{RotationID: "rot-x", Phase: PhaseCreating, StartedAt: now.Add(-time.Hour), PreexistingTokenIDs: []string{"old"}}}},
			action: ActionBlocked, reason: ReasonBlocked, cause: CauseTwoUnrecorded},
		{name: "pending resumes", obs: Observed{Tokens: []TokenInfo{old, newer}, Store: StoreState{Pending: rec(newer, "rot-1"), Progress: progress(PhasePushing, "new", "old")}},
			action: ActionResume, cause: CauseInProgress,
			check: func(t *testing.T, p Plan) {
				if p.RotationID != "rot-1" || p.NewTokenID != "new" || p.OldTokenID != "old" {
					t.Fatalf("%+v", p)
				}
			}},
		{name: "pending stored before its id was recorded resumes", obs: Observed{Tokens: []TokenInfo{old, newer}, Store: StoreState{Pending: rec(newer, "rot-1"), Progress: progress(PhaseCreating, "", "old")}},
			action: ActionResume, cause: CauseInProgress},
		{name: "hand-off waits", obs: Observed{Tokens: []TokenInfo{old, newer}, Store: StoreState{Pending: rec(newer, "rot-1"),
			Progress: &Progress{RotationID: "rot-1", Phase: PhaseAwaitingHandoff, NewTokenID: "new", HandoffSince: now.Add(-time.Hour)}}},
			pol:    Policy{HandoffTimeout: 90 * time.Minute},
			action: ActionWait, reason: ReasonAwaitingHandoff, cause: CauseHandoff},
		{name: "hand-off overdue", obs: Observed{Tokens: []TokenInfo{old, newer}, Store: StoreState{Pending: rec(newer, "rot-1"),
			Progress: &Progress{RotationID: "rot-1", Phase: PhaseAwaitingHandoff, NewTokenID: "new", HandoffSince: now.Add(-2 * time.Hour)}}},
			pol:    Policy{HandoffTimeout: 90 * time.Minute},
			action: ActionWait, reason: ReasonFailed, cause: CauseHandoffOverdue},
		{name: "hand-off continued", obs: Observed{Tokens: []TokenInfo{old, newer}, Store: StoreState{Pending: rec(newer, "rot-1"),
			Progress: &Progress{RotationID: "rot-1", Phase: PhaseAwaitingHandoff, NewTokenID: "new"}}},
			pol:    Policy{Continue: true},
			action: ActionResume, cause: CauseInProgress},
		{name: "promoted, old token left: finish first", obs: Observed{Tokens: []TokenInfo{old, newer},
			Store: StoreState{Current: rec(newer, "rot-1"), Progress: progress(PhasePromoted, "new", "old")}},
			pol:    Policy{Now: true},
			action: ActionFinish, cause: CauseOldTokenLeft,
			check: func(t *testing.T, p Plan) {
				if p.OldTokenID != "old" || p.NewTokenID != "new" {
					t.Fatalf("%+v", p)
				}
			}},
		{name: "a promoted record naming a newer token as the old one is not finished",
			obs: Observed{Tokens: []TokenInfo{old, newer},
				Store: StoreState{Current: rec(old, "v1"), Progress: &Progress{RotationID: "rot-x", Phase: PhasePromoted, NewTokenID: "old", OldTokenID: "new"}}},
			action: ActionStart, cause: CauseInWindow,
			check: func(t *testing.T, p Plan) {
				// Only the current record decides (its value is proved before
				// anything is deleted to make room).
				if len(p.Delete) != 1 || p.Delete[0].Why != DeleteNotLive {
					t.Fatalf("%+v", p)
				}
			}},
		{name: "manual issuer due waits for a token", obs: Observed{Store: StoreState{Current: rec(old, "v1")}}, pol: Policy{ByHand: true},
			action: ActionWait, reason: ReasonAwaitingToken, cause: CauseInWindow},
		{name: "manual issuer without record", obs: Observed{}, pol: Policy{ByHand: true},
			action: ActionWait, reason: ReasonAwaitingToken, cause: CauseExpiryUnknown},

		// Trust: what the store says that Identity Center contradicts.
		{name: "planted pending without progress", obs: Observed{Tokens: []TokenInfo{old, newer}, Store: StoreState{Pending: rec(newer, "rot-x")}},
			action: ActionBlocked, reason: ReasonBlocked, cause: CauseUntrustedRecord,
			check: wantDistrust(TrustRotation)},
		{name: "planted pending naming a token Identity Center does not list", obs: Observed{Tokens: []TokenInfo{old},
			Store: StoreState{Pending: rec(tok("attacker", now), "rot-1"), Progress: progress(PhaseCreated, "attacker", "old")}},
			action: ActionBlocked, reason: ReasonBlocked, cause: CauseUntrustedRecord,
			check: wantDistrust(TrustUnknownToken)},
		// (Without a current record, a pending naming the live token passes
		// these checks; its value then fails the SCIM proof and the executor
		// reports it: TestPlantedPendingRecord.)
		{name: "planted pending naming the recorded live token", obs: Observed{Tokens: []TokenInfo{old},
			Store: StoreState{Current: rec(old, "v1"), Pending: rec(old, "rot-1"), Progress: &Progress{RotationID: "rot-1", Phase: PhaseCreated, NewTokenID: "old"}}},
			action: ActionBlocked, reason: ReasonBlocked, cause: CauseUntrustedRecord,
			check: wantDistrust(TrustPreexisting)},
		{name: "pending token that existed before its rotation", obs: Observed{Tokens: []TokenInfo{old, fresh},
			Store: StoreState{Pending: rec(fresh, "rot-1"), Progress: progress(PhaseCreated, "fresh", "old", "fresh")}},
			action: ActionBlocked, reason: ReasonBlocked, cause: CauseUntrustedRecord,
			check: wantDistrust(TrustPreexisting)},
		{name: "pending naming a foreign SCIM endpoint", obs: Observed{Tokens: []TokenInfo{old, newer},
			Store: StoreState{Pending: &Record{Token: Token{TokenInfo: newer, Value: NewSecret("v")}, SCIMEndpoint: "https://attacker.example/scim/v2/", VersionID: "rot-1"},
				Progress: progress(PhaseCreated, "new", "old")}},
			action: ActionBlocked, reason: ReasonBlocked, cause: CauseUntrustedRecord,
			check: wantDistrust(TrustEndpoint)},
		{name: "current naming a foreign SCIM endpoint", obs: Observed{Tokens: []TokenInfo{fresh},
			Store: StoreState{Current: &Record{Token: Token{TokenInfo: fresh, Value: NewSecret("v")}, SCIMEndpoint: "https://attacker.example/scim/v2/", VersionID: "v1"}}},
			action: ActionBlocked, reason: ReasonBlocked, cause: CauseUntrustedRecord,
			check: wantDistrust(TrustEndpoint)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.obs.Tenant == (Tenant{}) {
				tc.obs.Tenant = tenant
			}
			if tc.pol.RotateBefore == 0 {
				tc.pol.RotateBefore = 720 * time.Hour
			}
			p := Decide(tc.obs, tc.pol, now)
			if p.Action != tc.action || p.Reason != tc.reason || p.Cause != tc.cause {
				t.Fatalf("got %s/%q/%s, want %s/%q/%s: %s", p.Action, p.Reason, p.Cause, tc.action, tc.reason, tc.cause, p.Message())
			}
			if p.Message() == "" {
				t.Fatal("no words for the plan")
			}
			if tc.check != nil {
				tc.check(t, p)
			}
			// The live token is never planned for deletion.
			for _, d := range p.Delete {
				if p.LiveKnown && d.ID == p.Live.ID {
					t.Fatalf("plans to delete the live token %s", d.ID)
				}
			}
		})
	}
}

func wantDistrust(c TrustCheck) func(*testing.T, Plan) {
	return func(t *testing.T, p Plan) {
		t.Helper()
		for _, d := range p.Distrust {
			if d.Check == c {
				return
			}
		}
		t.Fatalf("want distrust %s, got %+v", c, p.Distrust)
	}
}

// TestDueAt: the window's edges. A token is due from DueAt on, not a
// nanosecond before; the plan and the Health cross-check agree at both.
func TestDueAt(t *testing.T) {
	expires := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	const before = 720 * time.Hour
	due := DueAt(expires, before)
	if want := time.Date(2027, 1, 30, 12, 0, 0, 0, time.UTC); !due.Equal(want) {
		t.Fatalf("DueAt %s, want %s", due, want)
	}
	if DueAt(expires, 0) != expires {
		t.Error("without a window a token is due when it expires")
	}
	for _, tc := range []struct {
		now  time.Time
		want bool
	}{
		{due.Add(-time.Nanosecond), false},
		{due, true},
		{due.Add(time.Nanosecond), true},
	} {
		obs := Observed{Tokens: []TokenInfo{{ID: "t1", Expires: expires}},
			Store: StoreState{Current: &Record{Token: Token{TokenInfo: TokenInfo{ID: "t1", Expires: expires}}}}}
		p := Decide(obs, Policy{RotateBefore: before}, tc.now)
		if got := p.Action == ActionStart; got != tc.want || !p.DueAt.Equal(due) {
			t.Errorf("at %s: plan %s (due at %s), want due %v", tc.now, p.Action, p.DueAt, tc.want)
		}
		n := ExpiryNotice{EventARN: "arn:aws:health:us-east-1::event/SSO/x", Expires: expires}
		d, found := compareNotice(n, ExpiryKnowledge{Tokens: obs.Tokens, Live: &obs.Tokens[0], RotateBefore: before, Now: tc.now})
		if inWindow := found && d.Kind == DueNotRotating; inWindow != tc.want {
			t.Errorf("at %s: Health comparison %+v (found %v), want due %v", tc.now, d, found, tc.want)
		}
	}
}

// A client's calls are counted in words that read right for one.
func TestClientWordsCountCalls(t *testing.T) {
	at := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	got := clientWords([]ClientUse{{UserAgent: "Okta SCIM Client 1.0.0", SourceIP: "198.51.100.7", Last: at, Calls: 1},
		{UserAgent: "sync-job/1.0", SourceIP: "198.51.100.8", Last: at, Calls: 3}})
	want := `"Okta SCIM Client 1.0.0" from 198.51.100.7, last at 2026-12-08T00:00:00Z (1 call); "sync-job/1.0" from 198.51.100.8, last at 2026-12-08T00:00:00Z (3 calls)`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
