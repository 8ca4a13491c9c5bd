package store

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"
)

// ErrNoCredentials says no source of the standard chain had S3
// credentials. Unsigned requests would only fail later, as "Access Denied".
var ErrNoCredentials = errors.New("no S3 credentials: set EJECTA_S3_ACCESS_KEY and EJECTA_S3_SECRET_KEY, " +
	"or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give a shared credentials file (~/.aws/credentials, " +
	"AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE), or run with an IAM role")

// iamTimeout bounds a request to the instance metadata service (or ECS,
// or STS for a web identity): off AWS the address answers nothing.
const iamTimeout = 5 * time.Second

// s3Creds are cfg's static keys, or, without them, minio-go's standard
// chain in the AWS SDK's order: the environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the shared credentials file,
// then an IAM role (an EC2 instance profile, an ECS task role, an EKS web
// identity). Temporary credentials are renewed as they expire. The chain
// is asked once here, so that finding nothing is an error at start.
func s3Creds(ctx context.Context, cfg S3Config) (*credentials.Credentials, error) {
	if cfg.AccessKey != "" {
		return credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""), nil
	}
	client := &http.Client{Timeout: iamTimeout}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{},
		&credentials.IAM{Client: client},
	})
	v, err := creds.GetWithContext(&credentials.CredContext{Context: ctx, Client: client})
	if err != nil {
		return nil, err
	}
	if v.SignerType.IsAnonymous() || v.AccessKeyID == "" {
		return nil, ErrNoCredentials
	}
	return creds, nil
}
