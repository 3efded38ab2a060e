package cloudrun

import "fmt"

// An Explanation says what a refusal by Cloud Run means: what was found, why, and the fix.
type Explanation struct {
	Found, Note, Remedy string
}

// A Refusal is what the caller knows when Cloud Run answers 401 or 403 to its token.
type Refusal struct {
	// URL is the URL in use; Ref and RefNote name the service for grant commands and say
	// where the names came from.
	URL     string
	Ref     Ref
	RefNote string
	// TokenAudience is the token's aud; ExpiredAt is its exp when it had expired, else "".
	TokenAudience, ExpiredAt string
	// Principal is who the token speaks for.
	Principal string
	// AudienceHonoured is false when the credential cannot choose aud (user credentials).
	AudienceHonoured bool
	// Login says how to get fresh credentials of this kind.
	Login string
}

// mintForAudience is the remedy when the credential cannot mint for the service's audience.
const mintForAudience = "mint tokens for the service's audience: --impersonate-service-account SA_EMAIL (needs roles/iam.serviceAccountTokenCreator on it), or a service account key in GOOGLE_APPLICATION_CREDENTIALS with --token-source google-auth"

// AudienceRemedy says how to get a token whose aud the service accepts, when the credential
// minted one for aud instead.
func (f Refusal) AudienceRemedy(aud string) string {
	custom := "`" + AddCustomAudience(f.Ref, aud) + "`"
	switch {
	case IsOAuthClientID(aud):
		// Every user of gcloud (or of ADC) shares that client id: never make it an audience.
		return mintForAudience
	case !f.AudienceHonoured:
		return mintForAudience + "; or make the service accept this audience: " + custom
	}
	return "leave --audience out (it defaults to " + Origin(f.URL) + "), or make the service accept " + aud + ": " + custom
}

// Unauthorized explains a 401: the audience, an expired token, or a revoked credential.
func (f Refusal) Unauthorized() Explanation {
	origin, aud := Origin(f.URL), f.TokenAudience
	switch {
	case aud != origin && IsOAuthClientID(aud):
		return Explanation{
			Found:  fmt.Sprintf("the token carried the OAuth client id %s as aud (these credentials cannot choose it) and the service refused it; it expects %s or one of its custom audiences", aud, origin),
			Note:   "Cloud Run accepts such user tokens in many setups, but not this one",
			Remedy: f.AudienceRemedy(aud),
		}
	case aud != origin:
		return Explanation{
			Found:  fmt.Sprintf("the token carried aud %s, but Cloud Run expects the service URL %s (or a custom audience configured on the service)", aud, origin),
			Note:   "Cloud Run refuses a token whose aud is neither the service URL nor one of the service's custom audiences",
			Remedy: f.AudienceRemedy(aud),
		}
	case f.ExpiredAt != "":
		return Explanation{
			Found:  fmt.Sprintf("the token expired at %s", f.ExpiredAt),
			Remedy: "check this machine's clock; then log in again: " + f.Login,
		}
	}
	return Explanation{
		Found:  fmt.Sprintf("the token carried the expected aud %s and was refused: it was revoked, or its credential was disabled or deleted", aud),
		Note:   "the audience is right, so the token itself or the credential that minted it is at fault",
		Remedy: "log in again and rerun debug: " + f.Login,
	}
}

// Forbidden explains a 403: the principal lacks the invoker role; the grant command fixes it.
func (f Refusal) Forbidden() Explanation {
	return Explanation{
		Found:  fmt.Sprintf("the principal %s lacks roles/run.invoker on the service", firstOf(f.Principal, "(unknown)")),
		Note:   f.RefNote + "; " + Propagation,
		Remedy: GrantInvoker(f.Ref, f.Principal),
	}
}

// GrantTokenCreator is the command that lets principal impersonate target.
func GrantTokenCreator(target, principal string) string {
	return fmt.Sprintf("gcloud iam service-accounts add-iam-policy-binding %s --member=%s --role=roles/iam.serviceAccountTokenCreator", target, Member(principal))
}
