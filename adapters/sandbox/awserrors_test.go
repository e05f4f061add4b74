package sandbox

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAWSFaults: what each AWS fake answers an injected status with, as the
// SDKs read it: the code in the body's "__type" (after its namespace) or,
// for Lambda, in X-Amzn-ErrorType; STS's in its XML.
func TestAWSFaults(t *testing.T) {
	tests := []struct {
		fake   awsJSON
		status int
		code   string
	}{
		{icJSON, 0, "InternalServerException"},
		{icJSON, 400, "ValidationException"},
		{icJSON, 503, "ServiceUnavailableException"},
		{smJSON, 429, "ThrottlingException"},
		{smJSON, 400, "InvalidRequestException"},
		{smJSON, 502, "InternalServiceError"},
		{ctJSON, 400, "ThrottlingException"},
		{ctJSON, 403, "AccessDeniedException"},
		{hlJSON, 400, "ThrottlingException"},
		{hlJSON, 403, "InternalFailure"},
		{hlJSON, 503, "InternalFailure"},
		{lambdaJSON, 429, "TooManyRequestsException"},
		{lambdaJSON, 403, "AccessDeniedException"},
		{lambdaJSON, 500, "ServiceException"},
	}
	for _, tt := range tests {
		t.Run(tt.fake.fake+"/"+http.StatusText(tt.status), func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.fake.writeFault(&Fault{Status: tt.status}, rec, httptest.NewRequest("POST", "/", nil))
			var doc map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || rec.Header().Get("Content-Type") != tt.fake.contentType {
				t.Fatalf("body %q (%s): %v", rec.Body, rec.Header().Get("Content-Type"), err)
			}
			got := doc["__type"]
			if tt.fake.restJSON {
				got = tt.fake.typePrefix + rec.Header().Get("X-Amzn-ErrorType")
			}
			if got != tt.fake.typePrefix+tt.code || doc["message"] == "" {
				t.Fatalf("answer %q %v, want code %s", got, doc, tt.code)
			}
		})
	}
	for status, code := range map[int]string{400: "Throttling", 403: "AccessDenied", 500: "InternalFailure"} {
		_, b := stsFaultBody(status)
		var doc stsError
		if err := xml.Unmarshal(b, &doc); err != nil || doc.Code != code || doc.Message == "" {
			t.Fatalf("sts %d: %+v %v, want %s", status, doc, err, code)
		}
	}
}
