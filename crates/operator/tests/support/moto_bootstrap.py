"""Give a moto S3 server real credentials and a bucket (test infrastructure).

moto checks request signatures only after its first INITIAL_NO_AUTH_ACTION_COUNT calls: this
script spends exactly four of them (create a user, give it s3:*, create its access key,
create the bucket) and prints the key as JSON. Every later call must be signed with it.

Usage: moto_bootstrap.py <endpoint> <bucket>
"""

import json
import sys

import boto3

endpoint, bucket = sys.argv[1], sys.argv[2]
session = dict(
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="bootstrap",
    aws_secret_access_key="bootstrap",
)
iam = boto3.client("iam", **session)
iam.create_user(UserName="backup")
iam.put_user_policy(
    UserName="backup",
    PolicyName="s3",
    PolicyDocument=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
    ),
)
key = iam.create_access_key(UserName="backup")["AccessKey"]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id=key["AccessKeyId"],
    aws_secret_access_key=key["SecretAccessKey"],
)
s3.create_bucket(Bucket=bucket)
print(json.dumps({"accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"]}))
