package cloudrun

import (
	"fmt"
	"strings"
)

// Permissions and roles the proxy cares about.
const (
	// PermissionInvoke is what roles/run.invoker grants: calling the service.
	PermissionInvoke = "run.routes.invoke"
	// PermissionGet is what reading a service's settings needs (roles/run.viewer has it).
	PermissionGet = "run.services.get"
	// RoleInvoker is the role to grant for PermissionInvoke.
	RoleInvoker = "roles/run.invoker"
)

// IsOAuthClientID reports whether aud is an OAuth client id (what gcloud and user ADC tokens
// carry) rather than a URL or custom audience.
func IsOAuthClientID(aud string) bool {
	return strings.HasSuffix(aud, ".apps.googleusercontent.com")
}

// Member is the IAM member for an email: serviceAccount: for service accounts, user:
// otherwise, user:EMAIL as a placeholder when the email is unknown.
func Member(email string) string {
	switch {
	case email == "":
		return "user:EMAIL"
	case IsServiceAccount(email):
		return "serviceAccount:" + email
	}
	return "user:" + email
}

// IsServiceAccount reports whether email names a service account.
func IsServiceAccount(email string) bool {
	return strings.HasSuffix(email, ".gserviceaccount.com")
}

// GrantInvoker is the gcloud command that lets email invoke the service.
func GrantInvoker(r Ref, email string) string {
	return fmt.Sprintf("gcloud run services add-iam-policy-binding %s --region %s --project %s --member=%s --role=%s",
		r.name(), r.region(), r.project(), Member(email), RoleInvoker)
}

// AddCustomAudience is the gcloud command that makes the service accept aud.
func AddCustomAudience(r Ref, aud string) string {
	return fmt.Sprintf("gcloud run services update %s --region %s --project %s --add-custom-audiences=%s",
		r.name(), r.region(), r.project(), aud)
}

// GrantIAPAccess is the gcloud command that lets email through IAP to the service.
func GrantIAPAccess(r Ref, email string) string {
	return fmt.Sprintf("gcloud iap web add-iam-policy-binding --resource-type=cloud-run --service=%s --region=%s --project=%s --member=%s --role=roles/iap.httpsResourceAccessor",
		r.name(), r.region(), r.project(), Member(email))
}

// GrantViewer is the gcloud command that lets email read the project's services.
func GrantViewer(project, email string) string {
	return fmt.Sprintf("gcloud projects add-iam-policy-binding %s --member=%s --role=roles/run.viewer",
		firstOf(project, "PROJECT"), Member(email))
}

// Propagation is said under every grant command: a rerun right after it may still fail.
const Propagation = "IAM changes can take a minute or two to apply"

// Note says where the names in a grant command come from, for a ref parsed from a URL.
func (u URLInfo) Note() string {
	if u.Ref.Name != "" && u.Ref.Region != "" {
		return fmt.Sprintf("service %s and region %s read from the URL", u.Ref.Name, u.Ref.Region)
	}
	return u.Why + "; replace SERVICE, REGION and PROJECT (`gcloud run services list --project PROJECT` shows the first two)"
}
