package awsbase

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/eventide/eventide/pkg/sinks"
)

type result struct{ code, msg *string }

func codeOf(r result) (*string, *string) { return r.code, r.msg }

// A batch answer that does not add up delivers nothing it does not
// account for: Kinesis' FailedRecordCount 3 with no Records, fewer
// results than entries, or a failure count the list does not show.
func TestEntryErrorsThatDoNotAddUp(t *testing.T) {
	ok, throttled := result{}, result{code: aws.String("ProvisionedThroughputExceededException"), msg: aws.String("slow down")}
	for _, c := range []struct {
		name      string
		failed    int
		answers   []result
		delivered []bool
	}{
		{"as sent", 1, []result{ok, throttled, ok}, []bool{true, false, true}},
		{"failures stated, no records", 3, nil, []bool{false, false, false}},
		{"fewer results than entries", 0, []result{ok, ok}, []bool{false, false, false}},
		{"more failures stated than listed", 2, []result{ok, throttled, ok}, []bool{false, false, false}},
	} {
		errs := EntryErrors(3, c.failed, c.answers, codeOf)
		for j, err := range errs {
			if (err == nil) != c.delivered[j] {
				t.Errorf("%s: entry %d: %v, want delivered=%v", c.name, j, err, c.delivered[j])
			}
			if err != nil {
				if _, retryable, _ := sinks.Classify(err); !retryable {
					t.Errorf("%s: entry %d: %v is not retryable", c.name, j, err)
				}
			}
		}
	}
}
