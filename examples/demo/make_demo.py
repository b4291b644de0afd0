#!/usr/bin/env python3
"""Writes the bundled demo data for account 111122223333 (see README.md in this directory).

    python3 examples/demo/make_demo.py

writes, next to this script:

* inventory.json: the account's roles as `aws iam get-account-authorization-details` prints them
  (only RoleDetailList is filled in; policy documents as JSON objects; IsTruncated false);
* usage.json: Access Advisor data in repokid's native usage format, version 1
  (docs/usage-format.md), collected 2026-11-20T06:00:00Z.

The demo is meant to be run with now = 2026-11-20T12:00:00Z. The script is deterministic (no
clock, no randomness: the same catalog gives the same bytes) and uses only the Python standard
library. It reads data/iam-catalog.tsv to check every action it writes (all but the deliberate
`s3:NoSuchAction` exist), to draw platform-automation's long action lists, and to list every
service for the two wildcard roles, as Access Advisor does. Both files are written in the exact
form repokid writes them (`inventory_to_json`, `to_native_json`), which a test checks.
"""

import hashlib
import json
import os
import re
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CATALOG = os.path.join(ROOT, "data", "iam-catalog.tsv")

ACCOUNT = "111122223333"
MANAGEMENT_ACCOUNT = "999988887777"
NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=timezone.utc)
COLLECTED_AT = datetime(2026, 11, 20, 6, 0, 0, tzinfo=timezone.utc)
OPT_OUT = ("repokid-opt-out", "owner=payments; until 2027-03-01")
UNKNOWN_ON_PURPOSE = {"s3:NoSuchAction"}

NEVER = None  # a service granted but never used


# --- the catalog --------------------------------------------------------------------------------


def load_catalog():
    """prefix -> [(action name, access level)] in catalog order."""
    services = {}
    with open(CATALOG, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            if line.startswith("@"):
                services.setdefault(line[1:].split("\t")[0], [])
                continue
            name, level = line.split("\t")[:2]
            prefix, action = name.split(":", 1)
            services.setdefault(prefix, []).append((action, level))
    return services


CAT = load_catalog()


def pick(prefix, step, levels="RLW"):
    """Every `step`th action of a service (Read, List and Write by default), as full names."""
    names = [a for a, level in CAT[prefix] if level in levels]
    return [f"{prefix}:{a}" for a in names[::step]]


def check_action(entry):
    """An action or pattern must match something in the catalog."""
    if entry == "*" or entry in UNKNOWN_ON_PURPOSE:
        return
    prefix, action = entry.split(":", 1)
    actions = CAT.get(prefix.lower())
    if actions is None:
        raise SystemExit(f"unknown service in {entry}")
    pattern = re.compile(
        "^" + re.escape(action.lower()).replace(r"\*", ".*").replace(r"\?", ".") + "$"
    )
    if not any(pattern.match(a.lower()) for a, _ in actions):
        raise SystemExit(f"{entry} matches no catalog action")


# --- policy building ----------------------------------------------------------------------------


def stmt(actions, resource="*", effect="Allow", sid=None, condition=None, not_action=False):
    s = {}
    if sid:
        s["Sid"] = sid
    s["Effect"] = effect
    s["NotAction" if not_action else "Action"] = actions
    s["Resource"] = resource
    if condition:
        s["Condition"] = condition
    return s


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def service_trust(*services):
    principal = services[0] if len(services) == 1 else list(services)
    return doc_trust({"Service": principal}, "sts:AssumeRole")


def doc_trust(principal, action, condition=None):
    s = {"Effect": "Allow", "Principal": principal, "Action": action}
    if condition:
        s["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [s]}


def arn(resource, service, region="us-east-1"):
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


def bucket(name, objects=False):
    return f"arn:aws:s3:::{name}/*" if objects else f"arn:aws:s3:::{name}"


def managed(name, path="/"):
    return f"arn:aws:iam::aws:policy{path}{name}"


ECS = service_trust("ecs-tasks.amazonaws.com")
EC2 = service_trust("ec2.amazonaws.com")
BATCH = service_trust("ecs-tasks.amazonaws.com", "batch.amazonaws.com")
LAMBDA = service_trust("lambda.amazonaws.com")
SSM_CORE = managed("AmazonSSMManagedInstanceCore")
SSM_SERVICES = ["ssm", "ssmmessages", "ec2messages"]
LAMBDA_BASIC = managed("AWSLambdaBasicExecutionRole", "/service-role/")


# --- the roles ----------------------------------------------------------------------------------
#
# Each role: name, created (UTC), trust, policies {name: document}, and optionally path, managed
# (ARNs), tags, managed_services (services its managed policies grant; Access Advisor lists them
# too), usage {service: days since last use, or NEVER} for services not used recently (every
# other granted service was used within the last three weeks), actions {service: {Action: days or
# NEVER}} for action-level data, omit (services left out of the usage data), no_usage (no entry
# at all), all_services (the role may use every service: Access Advisor lists them all).

ROLES = [
    dict(
        name="orders-api",
        created="2020-02-17T14:03:22",
        trust=ECS,
        tags=[("team", "orders"), ("service", "orders-api"), ("env", "prod")],
        policies={
            "orders-api": doc(
                stmt(
                    ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
                    [arn("table/orders", "dynamodb"), arn("table/orders/index/*", "dynamodb")],
                    sid="OrdersTable",
                ),
                stmt(["s3:GetObject"], bucket("acme-orders-documents", True), sid="ReadDocuments"),
                stmt(
                    ["s3:PutObject"],
                    bucket("acme-orders-documents", True),
                    sid="WriteEncryptedDocuments",
                    condition={"StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
                ),
                stmt(["sqs:SendMessage", "sqs:GetQueueUrl"], arn("orders-events", "sqs"), sid="Events"),
                stmt("sns:Publish", arn("order-status", "sns"), sid="StatusNotifications"),
                stmt(["kms:Decrypt", "kms:GenerateDataKey"], arn("key/1f0c5e2a-orders", "kms"), sid="Kms"),
                stmt("ec2:Describe*", sid="LegacyServiceDiscovery"),
            )
        },
        usage={"sns": 180, "ec2": NEVER},
    ),
    dict(
        name="orders-worker",
        created="2020-02-17T14:05:40",
        trust=ECS,
        tags=[("team", "orders"), ("service", "orders-worker"), ("env", "prod")],
        policies={
            "orders-worker": doc(
                stmt(
                    ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
                    arn("orders-events", "sqs"),
                ),
                stmt(["dynamodb:GetItem", "dynamodb:UpdateItem"], arn("table/orders", "dynamodb")),
                stmt("s3:Get*", bucket("acme-orders-documents", True)),
                stmt(["ses:SendEmail", "ses:SendRawEmail"], "*", sid="ReceiptEmails"),
            )
        },
        usage={"ses": 240},
    ),
    dict(
        name="payments-api",
        created="2019-09-09T08:30:00",
        trust=ECS,
        tags=[("team", "payments"), ("env", "prod"), OPT_OUT],
        policies={
            "payments-api": doc(
                stmt(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], arn("table/payments", "dynamodb")),
                stmt(["kms:Decrypt", "kms:Encrypt"], arn("key/7d2e-payments", "kms")),
                stmt("sqs:SendMessage", arn("payment-events", "sqs")),
                stmt("sns:Publish", arn("payment-alerts", "sns")),
                stmt("secretsmanager:GetSecretValue", arn("secret:payments/*", "secretsmanager")),
            )
        },
        usage={"sns": 150},
    ),
    dict(
        name="payments-reconciler",
        created="2021-01-12T10:00:00",
        trust=BATCH,
        tags=[("team", "payments"), ("env", "prod"), OPT_OUT],
        policies={
            "reconciliation": doc(
                stmt(["s3:GetObject", "s3:PutObject", "s3:ListBucket"], [bucket("acme-settlements"), bucket("acme-settlements", True)]),
                stmt(["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults"]),
                stmt(["glue:GetTable", "glue:GetPartitions"]),
            )
        },
        usage={"glue": NEVER},
    ),
    dict(
        name="billing-batch",
        created="2019-06-03T16:45:10",
        trust=BATCH,
        tags=[("team", "billing"), ("schedule", "nightly")],
        policies={
            "billing-s3": doc(
                stmt(["s3:Get*", "s3:ListBucket"], [bucket("acme-billing-exports"), bucket("acme-billing-exports", True)], sid="ReadExports"),
                stmt("s3:PutObject", bucket("acme-invoices", True), sid="WriteInvoices"),
                stmt(
                    ["s3:DeleteObject", "s3:DeleteBucket"],
                    [bucket("acme-invoices"), bucket("acme-invoices", True)],
                    effect="Deny",
                    sid="InvoicesAreImmutable",
                ),
            ),
            "billing-athena": doc(
                stmt(["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults"], sid="Queries"),
                stmt(["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions", "glue:BatchCreatePartition"], sid="Catalog"),
            ),
            "billing-metrics": doc(
                stmt("cloudwatch:PutMetricData", condition={"StringEquals": {"cloudwatch:namespace": "Billing"}}),
                stmt("ec2:Describe*"),
            ),
            # The SFTP hand-off to the old invoicing partner, switched off in 2025.
            "billing-sftp-export": doc(
                stmt(["transfer:DescribeServer", "transfer:ListUsers", "transfer:StartFileTransfer"], sid="PartnerSftp"),
            ),
        },
        usage={"glue": 300, "transfer": 370},
    ),
    dict(
        name="catalog-api",
        created="2019-11-21T09:12:00",
        trust=EC2,
        managed=[SSM_CORE],
        managed_services=SSM_SERVICES,
        tags=[("team", "catalog"), ("env", "prod")],
        policies={
            "catalog-api": doc(
                stmt("s3:Get*", bucket("acme-product-images", True)),
                stmt(["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"], arn("table/products", "dynamodb")),
                stmt(["elasticache:DescribeCacheClusters", "elasticache:DescribeReplicationGroups"]),
                stmt("ec2:Describe*"),
            )
        },
        usage={"elasticache": NEVER},
    ),
    dict(
        name="search-indexer",
        created="2021-04-28T11:20:33",
        trust=ECS,
        tags=[("team", "search")],
        policies={
            "search-indexer": doc(
                stmt(["es:ESHttpGet", "es:ESHttpPost", "es:ESHttpPut"], arn("domain/catalog-search/*", "es")),
                stmt(["sqs:ReceiveMessage", "sqs:DeleteMessage"], arn("catalog-changes", "sqs")),
                stmt("lambda:InvokeFunction", arn("function:search-reindex", "lambda")),
            )
        },
        usage={"lambda": NEVER},
    ),
    dict(
        name="notifications-service",
        created="2020-08-14T13:00:00",
        trust=ECS,
        tags=[("team", "growth")],
        policies={
            "notifications": doc(
                stmt(["sns:Publish", "sns:CreatePlatformEndpoint"], sid="Push"),
                stmt(["ses:SendEmail", "ses:SendTemplatedEmail"], sid="Email"),
                stmt(["sqs:ReceiveMessage", "sqs:DeleteMessage"], arn("notification-requests", "sqs"), sid="Requests"),
                stmt(["sns:DeleteTopic", "sns:SetTopicAttributes"], "*", effect="Deny", sid="NoTopicChanges"),
            )
        },
        usage={"sqs": 120},
    ),
    dict(
        name="reporting-batch",
        created="2022-03-07T07:00:00",
        trust=BATCH,
        tags=[("team", "analytics")],
        policies={
            "reporting": doc(
                stmt(["athena:StartQueryExecution", "athena:GetQueryResults", "athena:GetQueryExecution"]),
                stmt(["glue:GetTable", "glue:GetDatabase"]),
                stmt(["s3:GetObject", "s3:PutObject", "s3:ListBucket"], [bucket("acme-reports"), bucket("acme-reports", True)]),
                stmt(["redshift-data:ExecuteStatement", "redshift-data:GetStatementResult"]),
                stmt(["quicksight:DescribeDashboard", "quicksight:ListDashboards"]),
            )
        },
        usage={"redshift-data": 395, "quicksight": NEVER},
    ),
    dict(
        name="inventory-sync",
        created="2021-10-19T15:30:00",
        trust=ECS,
        tags=[("team", "fulfilment")],
        policies={
            "inventory-sync": doc(
                stmt(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"], arn("table/inventory", "dynamodb")),
                stmt(["s3:GetObject", "s3:ListBucket"], [bucket("acme-supplier-feeds"), bucket("acme-supplier-feeds", True)]),
                stmt(["sqs:SendMessage"], arn("stock-levels", "sqs")),
                stmt("sns:Publish", arn("stock-alerts", "sns")),
            )
        },
        usage={"sns": 200},
        # Access Advisor's answer lacks dynamodb although the role uses it every day: no entry
        # proves nothing, so dynamodb must be kept.
        omit=["dynamodb"],
    ),
    dict(
        name="data-lake-reader",
        path="/teams/data/",
        created="2022-06-01T12:00:00",
        trust=doc_trust({"AWS": f"arn:aws:iam::{ACCOUNT}:role/teams/data/etl-airflow"}, "sts:AssumeRole"),
        tags=[("team", "data-platform")],
        policies={
            "data-lake": doc(
                stmt(
                    ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketPolicy", "s3:PutBucketPolicy"],
                    [bucket("acme-data-lake"), bucket("acme-data-lake", True)],
                    sid="Lake",
                ),
                stmt(["glue:GetTable", "glue:GetTables", "glue:GetDatabase"], sid="Catalog"),
                stmt(["athena:StartQueryExecution", "athena:GetQueryResults"], sid="Query"),
                stmt("lakeformation:GetDataAccess", sid="LakeFormation"),
                stmt(["iam:GetRole", "iam:ListRoles", "iam:CreateServiceLinkedRole"], sid="Iam"),
            )
        },
        usage={"lakeformation": NEVER},
        # Action-level data, as IAM reports it for S3 and IAM: only the tracked actions appear.
        actions={
            "s3": {"GetBucketLocation": 2, "GetBucketPolicy": 41, "PutBucketPolicy": NEVER, "ListAllMyBuckets": NEVER},
            "iam": {"GetRole": 1, "ListRoles": 6, "CreateServiceLinkedRole": NEVER},
        },
    ),
    dict(
        name="ci-deployer",
        created="2020-05-05T10:10:10",
        trust=doc_trust(
            {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"},
            "sts:AssumeRoleWithWebIdentity",
            {
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme-corp/*:ref:refs/heads/main"},
            },
        ),
        tags=[("team", "platform"), ("managed-by", "terraform")],
        policies={
            "deploy": doc(
                stmt(
                    ["cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet", "cloudformation:DescribeStacks", "cloudformation:DescribeChangeSet"],
                    sid="Stacks",
                ),
                stmt(["ecs:RegisterTaskDefinition", "ecs:UpdateService", "ecs:DescribeServices"], sid="Ecs"),
                stmt(
                    ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"],
                    sid="PushImages",
                ),
                stmt(["s3:GetObject", "s3:PutObject"], bucket("acme-ci-artifacts", True), sid="Artifacts"),
                stmt(["codedeploy:CreateDeployment", "codedeploy:GetDeployment"], sid="CodeDeploy"),
            ),
            "pass-role": doc(
                stmt(
                    "iam:PassRole",
                    f"arn:aws:iam::{ACCOUNT}:role/*",
                    sid="PassTaskRoles",
                    condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
                ),
                stmt(["iam:GetRole", "iam:ListRoles"], sid="InspectRoles"),
            ),
        },
        usage={"iam": 250, "codedeploy": NEVER},
    ),
    dict(
        name="legacy-admin",
        created="2019-02-11T18:22:05",
        trust=doc_trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "sts:AssumeRole", {"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
        tags=[("owner", "platform"), ("created-by", "console")],
        policies={
            "AdminAccess": doc(
                stmt("*", "*", sid="FullAccess"),
                stmt(["organizations:LeaveOrganization", "account:CloseAccount"], "*", effect="Deny", sid="StayInOrg"),
            )
        },
        all_services=True,
        used=["ec2", "s3", "iam", "rds", "cloudwatch", "logs", "sts", "kms", "ssm", "cloudformation", "route53"],
        usage={"redshift": 210, "elasticmapreduce": 390, "sqs": 130, "lambda": 160},
    ),
    dict(
        name="analytics-poweruser",
        created="2021-08-23T09:00:00",
        trust=doc_trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "sts:AssumeRole"),
        tags=[("team", "analytics")],
        policies={
            "poweruser": doc(
                stmt(["iam:*", "organizations:*"], "*", sid="EverythingButIam", not_action=True),
                stmt(["iam:Get*", "iam:List*"], "*", sid="ReadIam"),
                stmt("s3:DeleteBucket", "*", effect="Deny", sid="KeepBuckets"),
            )
        },
        all_services=True,
        all_services_except=["organizations"],
        used=["athena", "glue", "s3", "quicksight", "redshift", "sagemaker", "ec2", "cloudwatch", "logs", "iam", "sts", "kms"],
        usage={"emr-serverless": 150, "kinesis": 280, "dynamodb": 120},
    ),
    dict(
        name="security-scanner",
        created="2020-11-02T08:00:00",
        trust=doc_trust({"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:role/security-hub"}, "sts:AssumeRole", {"StringEquals": {"sts:ExternalId": "acme-sec-7f3a"}}),
        tags=[("team", "security")],
        policies={
            "scanner": doc(
                stmt(["ec2:Describe*", "s3:GetBucketPolicy", "s3:GetBucketAcl", "s3:GetEncryptionConfiguration"], sid="ReadInventory"),
                stmt(["config:DescribeConfigRules", "config:GetComplianceDetailsByConfigRule"], sid="Config"),
                stmt(["guardduty:GetFindings", "guardduty:ListFindings"], sid="Findings"),
                stmt(["inspector2:ListFindings", "inspector2:ListCoverage"], sid="Inspector"),
                stmt(
                    ["ec2:CreateSnapshot", "ec2:StopInstances", "ec2:ModifyInstanceAttribute", "iam:UpdateAccessKey", "guardduty:UpdateFindingsFeedback"],
                    "*",
                    sid="NOREPOIncidentResponse",
                    condition={"StringEquals": {"aws:PrincipalTag/incident": "active"}},
                ),
            )
        },
        usage={"guardduty": NEVER, "inspector2": NEVER, "iam": NEVER},
    ),
    dict(
        name="image-resizer-fn",
        path="/service-role/",
        created="2021-05-17T12:34:56",
        trust=LAMBDA,
        managed=[LAMBDA_BASIC],
        managed_services=["logs"],
        tags=[("team", "catalog")],
        policies={
            "images": doc(
                stmt(["s3:GetObject", "s3:PutObject"], bucket("acme-product-images", True)),
                stmt("rekognition:DetectLabels"),
            )
        },
        usage={"rekognition": NEVER},
    ),
    dict(
        name="slack-notifier-fn",
        path="/service-role/",
        created="2022-09-30T17:00:00",
        trust=LAMBDA,
        managed=[LAMBDA_BASIC],
        managed_services=["logs"],
        tags=[("team", "platform")],
        policies={
            "slack": doc(
                stmt("secretsmanager:GetSecretValue", arn("secret:slack/webhook-*", "secretsmanager")),
                stmt(["sns:Subscribe", "sns:Publish"]),
                stmt("ec2:Describe*"),
            )
        },
        usage={"ec2": NEVER, "sns": 330},
    ),
    dict(
        name="cdn-auth-edge-fn",
        path="/service-role/",
        created="2023-03-14T10:00:00",
        trust=service_trust("lambda.amazonaws.com", "edgelambda.amazonaws.com"),
        managed=[LAMBDA_BASIC],
        managed_services=["logs"],
        tags=[("team", "web")],
        policies={
            "edge-auth": doc(
                stmt("ssm:GetParameter", arn("parameter/cdn/jwt-public-key", "ssm")),
                stmt("kms:Decrypt"),
            )
        },
        usage={"kms": 140},
    ),
    dict(
        name="checkout-v2-api",
        created="2026-10-05T09:41:00",
        trust=ECS,
        tags=[("team", "checkout"), ("env", "prod")],
        policies={
            "checkout": doc(
                stmt(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], arn("table/carts", "dynamodb")),
                stmt("sqs:SendMessage", arn("orders-events", "sqs")),
                stmt("sns:Publish"),
            )
        },
        usage={"sns": NEVER},
    ),
    dict(
        name="fraud-scoring-api",
        created="2026-11-02T15:20:00",
        trust=ECS,
        tags=[("team", "risk")],
        policies={
            "scoring": doc(
                stmt("sagemaker:InvokeEndpoint", arn("endpoint/fraud-*", "sagemaker")),
                stmt("s3:Get*", bucket("acme-risk-models", True)),
                stmt(["kinesis:PutRecord", "kinesis:PutRecords"]),
            )
        },
        usage={"kinesis": NEVER},
    ),
    dict(
        name="vendor-sync",
        created="2024-04-18T13:13:13",
        trust=doc_trust({"AWS": "arn:aws:iam::555566667777:root"}, "sts:AssumeRole", {"StringEquals": {"sts:ExternalId": "acme-vendor-2024"}}),
        tags=[("team", "procurement"), ("vendor", "northwind")],
        policies={
            "vendor-exchange": doc(
                stmt(["s3:GetObject", "s3:PutObject", "s3:ListBucket"], [bucket("acme-vendor-exchange"), bucket("acme-vendor-exchange", True)]),
                stmt("sqs:SendMessage", arn("vendor-inbound", "sqs")),
            )
        },
        no_usage=True,
    ),
    dict(
        name="platform-automation",
        created="2019-04-01T09:00:00",
        trust=doc_trust({"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci-deployer"}, "sts:AssumeRole"),
        tags=[("team", "platform"), ("managed-by", "terraform")],
        policies={
            "compute": doc(
                stmt(pick("ec2", 9), sid="Ec2"),
                stmt(pick("autoscaling", 6), sid="AutoScaling"),
                stmt(pick("ecs", 6), sid="Ecs"),
                stmt(pick("eks", 6), sid="Eks"),
                stmt(pick("lambda", 6), sid="Lambda"),
            ),
            "networking": doc(
                stmt(pick("elasticloadbalancing", 6), sid="LoadBalancers"),
                stmt(pick("route53", 6), sid="Dns"),
                stmt(pick("cloudfront", 6), sid="Cdn"),
                stmt(pick("acm", 6), sid="Certificates"),
            ),
            "data-stores": doc(
                stmt(pick("rds", 6), sid="Rds"),
                stmt(pick("dynamodb", 6), sid="DynamoDb"),
                stmt(pick("elasticache", 6), sid="ElastiCache"),
                stmt(pick("s3", 6), sid="S3"),
                stmt(pick("backup", 6), sid="Backup"),
            ),
            "operations": doc(
                stmt(pick("cloudwatch", 6), sid="CloudWatch"),
                stmt(pick("logs", 6), sid="Logs"),
                stmt(pick("ssm", 6), sid="Ssm"),
                stmt(pick("cloudformation", 6), sid="CloudFormation"),
                stmt(pick("sns", 6) + pick("sqs", 6), sid="Messaging"),
                stmt(pick("events", 6), sid="Events"),
                stmt(pick("states", 6), sid="StepFunctions"),
            ),
        },
        usage={"elasticache": 200, "backup": NEVER, "states": 130, "acm": NEVER, "cloudfront": 310},
    ),
    dict(
        name="media-transcoder",
        created="2019-08-08T08:08:08",
        trust=ECS,
        tags=[("team", "media")],
        policies={
            "transcoding": doc(
                # s3:NoSuchAction is a typo nobody noticed; no catalog knows it.
                stmt(["s3:GetObject", "s3:PutObject", "s3:NoSuchAction"], bucket("acme-media", True)),
                stmt(["mediaconvert:CreateJob", "mediaconvert:GetJob", "mediaconvert:DescribeEndpoints"]),
                stmt(["elastictranscoder:CreateJob", "elastictranscoder:ReadJob"]),
                stmt("sns:Publish", arn("transcode-done", "sns")),
            )
        },
        usage={"elastictranscoder": 380},
    ),
    dict(
        name="readonly-auditor",
        created="2019-03-20T10:00:00",
        trust=doc_trust({"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:root"}, "sts:AssumeRole"),
        managed=[managed("SecurityAudit"), managed("ReadOnlyAccess")],
        managed_services=["cloudtrail", "config", "iam", "ec2", "s3", "guardduty"],
        tags=[("team", "security"), ("auditor", "external")],
        policies={},
        usage={"guardduty": NEVER},
    ),
    dict(
        name="OrganizationAccountAccessRole",
        created="2019-01-15T12:00:00",
        trust=doc_trust({"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:root"}, "sts:AssumeRole"),
        managed=[managed("AdministratorAccess")],
        managed_services=["iam", "sts", "organizations", "ec2", "s3"],
        policies={},
        usage={"organizations": NEVER, "ec2": 365},
    ),
    dict(
        name="eks-node-group",
        created="2023-01-09T11:00:00",
        trust=EC2,
        managed=[
            managed("AmazonEKSWorkerNodePolicy"),
            managed("AmazonEKS_CNI_Policy"),
            managed("AmazonEC2ContainerRegistryReadOnly"),
            SSM_CORE,
        ],
        managed_services=["eks", "ecr"] + SSM_SERVICES,
        tags=[("team", "platform"), ("cluster", "prod-eks")],
        policies={
            "node-extras": doc(
                stmt("ec2:Describe*"),
                stmt(["autoscaling:DescribeAutoScalingGroups", "autoscaling:SetDesiredCapacity"]),
                stmt("elasticloadbalancing:Describe*"),
                stmt("route53:ChangeResourceRecordSets", "arn:aws:route53:::hostedzone/Z0ACMEPROD"),
            )
        },
        usage={"elasticloadbalancing": 150},
    ),
    dict(
        name="backup-runner",
        created="2020-12-01T02:00:00",
        trust=BATCH,
        tags=[("team", "dba")],
        policies={
            "backups": doc(
                stmt(["rds:CreateDBSnapshot", "rds:DescribeDBSnapshots", "rds:DeleteDBSnapshot"]),
                stmt(["s3:PutObject", "s3:ListBucket"], [bucket("acme-db-backups"), bucket("acme-db-backups", True)]),
                stmt(["dynamodb:CreateBackup", "dynamodb:ListBackups"]),
            )
        },
        usage={"dynamodb": NEVER},
    ),
    dict(
        name="etl-airflow",
        path="/teams/data/",
        created="2022-05-16T09:30:00",
        trust=EC2,
        managed=[SSM_CORE],
        managed_services=SSM_SERVICES,
        tags=[("team", "data-platform")],
        policies={
            "etl": doc(
                stmt(["glue:StartJobRun", "glue:GetJobRun", "glue:GetTable"]),
                stmt(["s3:Get*", "s3:PutObject", "s3:ListBucket"], [bucket("acme-data-lake"), bucket("acme-data-lake", True)]),
                stmt(["athena:StartQueryExecution", "athena:GetQueryResults"]),
                stmt(["elasticmapreduce:RunJobFlow", "elasticmapreduce:DescribeCluster"]),
                stmt(["redshift:GetClusterCredentials"]),
                stmt("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/teams/data/data-lake-reader"),
            )
        },
        usage={"elasticmapreduce": 330, "redshift": NEVER},
    ),
    dict(
        name="support-readonly",
        created="2021-02-22T14:00:00",
        trust=doc_trust(
            {"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/Okta"},
            "sts:AssumeRoleWithSAML",
            {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
        ),
        tags=[("team", "support")],
        policies={
            "support": doc(
                stmt(
                    ["logs:FilterLogEvents", "logs:GetLogEvents", "logs:DescribeLogGroups"],
                    condition={"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
                ),
                stmt(["cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms"]),
                stmt(["xray:GetTraceSummaries", "xray:BatchGetTraces"]),
            )
        },
        usage={"xray": NEVER},
    ),
    dict(
        name="log-shipper",
        created="2020-03-03T03:03:03",
        trust=service_trust("firehose.amazonaws.com"),
        tags=[("team", "observability")],
        policies={
            "shipping": doc(
                stmt(["firehose:PutRecordBatch", "firehose:DescribeDeliveryStream"]),
                stmt(["logs:PutLogEvents", "logs:CreateLogStream"]),
                stmt(["s3:PutObject", "s3:GetBucketLocation"], [bucket("acme-logs"), bucket("acme-logs", True)]),
                stmt(["kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream"]),
            )
        },
        usage={"kinesis": 200},
    ),
    dict(
        name="terraform-state",
        created="2019-05-27T10:00:00",
        trust=doc_trust({"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci-deployer"}, "sts:AssumeRole"),
        tags=[("team", "platform"), ("managed-by", "terraform")],
        policies={
            "state": doc(
                stmt(["s3:GetObject", "s3:PutObject", "s3:ListBucket"], [bucket("acme-terraform-state"), bucket("acme-terraform-state", True)]),
                stmt(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"], arn("table/terraform-locks", "dynamodb")),
                stmt(["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], arn("key/tfstate", "kms")),
            )
        },
    ),
    dict(
        name="web-frontend",
        created="2019-10-10T10:10:10",
        trust=EC2,
        managed=[SSM_CORE],
        managed_services=SSM_SERVICES,
        tags=[("team", "web"), ("env", "prod")],
        policies={
            "frontend": doc(
                stmt("s3:Get*", bucket("acme-web-assets", True)),
                stmt("cloudfront:CreateInvalidation"),
                stmt("ec2:Describe*"),
            )
        },
        usage={"ec2": 105},
    ),
    dict(
        name="ml-training",
        path="/service-role/",
        created="2023-07-19T16:00:00",
        trust=service_trust("sagemaker.amazonaws.com"),
        tags=[("team", "risk")],
        policies={
            "training": doc(
                stmt(["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:CreateModel"]),
                stmt(["s3:GetObject", "s3:PutObject"], bucket("acme-risk-models", True)),
                stmt(["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]),
                stmt("cloudwatch:PutMetricData"),
                stmt("ec2:Describe*"),
            )
        },
        usage={"ec2": NEVER},
    ),
    dict(
        name="dns-updater",
        created="2022-11-11T11:11:11",
        trust=ECS,
        tags=[("team", "platform")],
        policies={
            "dns": doc(
                stmt(["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"], "arn:aws:route53:::hostedzone/Z0ACMEPROD"),
                stmt(["route53:GetChange", "route53:ListHostedZones"]),
                stmt(["route53domains:ListDomains", "route53domains:GetDomainDetail"]),
            )
        },
        usage={"route53domains": NEVER},
    ),
    dict(
        name="cost-explorer-reader",
        created="2023-02-01T09:00:00",
        trust=doc_trust({"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:role/finops"}, "sts:AssumeRole"),
        tags=[("team", "finops")],
        policies={
            "costs": doc(
                stmt(["ce:GetCostAndUsage", "ce:GetCostForecast"]),
                stmt(["budgets:ViewBudget", "budgets:DescribeBudgetActionsForAccount"]),
                stmt("cur:DescribeReportDefinitions"),
            )
        },
        usage={"budgets": 260, "cur": NEVER},
    ),
    dict(
        name="email-ingest",
        created="2024-02-14T12:00:00",
        trust=ECS,
        tags=[("team", "support")],
        policies={
            "ingest": doc(
                stmt(["s3:GetObject", "s3:DeleteObject"], bucket("acme-inbound-mail", True)),
                stmt(["ses:SendRawEmail"]),
                stmt(["sqs:SendMessage"], arn("support-tickets", "sqs")),
                stmt(["workmail:DescribeOrganization", "workmail:ListUsers"]),
            )
        },
        usage={"workmail": NEVER},
    ),
]


# --- output -------------------------------------------------------------------------------------


def digest(*parts):
    return hashlib.sha256("/".join(parts).encode()).digest()


def role_id(name):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return "AROA" + "".join(alphabet[b % 32] for b in digest("id", name)[:17])


def rfc3339_z(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def role_arn(r):
    return f"arn:aws:iam::{ACCOUNT}:role{r.get('path', '/')}{r['name']}"


def statements(document):
    s = document["Statement"]
    return s if isinstance(s, list) else [s]


def entries(statement):
    a = statement.get("Action", statement.get("NotAction"))
    return [a] if isinstance(a, str) else a


def granted_services(r):
    """Services Access Advisor lists for the role: those its Allow statements and managed
    policies grant."""
    if r.get("all_services"):
        return set(CAT) - set(r.get("all_services_except", []))
    out = set(r.get("managed_services", []))
    for document in r["policies"].values():
        for s in statements(document):
            if s["Effect"] == "Allow":
                out.update(e.split(":", 1)[0].lower() for e in entries(s))
    return out


def last_used(role, service, days):
    """A recent use (`days` absent), a use `days` ago, or never."""
    if days is NEVER:
        return None
    if days == "recent":
        # Within the three weeks before collection, at a time of day that varies by service.
        h = digest("use", role, service)
        t = COLLECTED_AT - timedelta(days=1 + h[0] % 20, hours=h[1] % 24, minutes=h[2] % 60)
    else:
        h = digest("old", role, service)
        t = NOW - timedelta(days=days, hours=h[1] % 12, minutes=h[2] % 60)
    return rfc3339_z(t)


def usage_for(r):
    explicit = r.get("usage", {})
    used = r.get("used")
    services = {}
    for service in sorted(granted_services(r) - set(r.get("omit", []))):
        if service in explicit:
            days = explicit[service]
        elif used is None or service in used:
            days = "recent"
        else:
            days = NEVER
        entry = {"last_accessed": last_used(r["name"], service, days)}
        if service in r.get("actions", {}):
            actions = {
                a.lower(): last_used(r["name"], f"{service}:{a}", d)
                for a, d in sorted(r["actions"][service].items(), key=lambda kv: kv[0].lower())
            }
            # The service was last used when its latest action was, or later (untracked actions).
            times = [t for t in [entry["last_accessed"], *actions.values()] if t is not None]
            entry["last_accessed"] = max(times) if times else None
            entry["actions"] = actions
        services[service] = entry
    for service in explicit:
        if service not in services and service not in r.get("omit", []):
            raise SystemExit(f"{r['name']}: usage for {service}, which the role is not granted")
    return {"collected_at": rfc3339_z(COLLECTED_AT), "services": services}


def role_detail(r):
    created = datetime.fromisoformat(r["created"]).replace(tzinfo=timezone.utc)
    out = {
        "Path": r.get("path", "/"),
        "RoleName": r["name"],
        "RoleId": role_id(r["name"]),
        "Arn": role_arn(r),
        "CreateDate": created.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "AssumeRolePolicyDocument": r["trust"],
        "InstanceProfileList": [],
        "RolePolicyList": [
            {"PolicyName": name, "PolicyDocument": r["policies"][name]}
            for name in sorted(r["policies"])
        ],
        "AttachedManagedPolicies": [
            {"PolicyName": a.rsplit("/", 1)[1], "PolicyArn": a} for a in r.get("managed", [])
        ],
    }
    if r.get("tags"):
        out["Tags"] = [{"Key": k, "Value": v} for k, v in r["tags"]]
    return out


def check(roles):
    names = [r["name"] for r in roles]
    assert len(set(n.lower() for n in names)) == len(names), "duplicate role names"
    for r in roles:
        for document in r["policies"].values():
            for s in statements(document):
                for e in entries(s):
                    check_action(e)


def write(path, value):
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return len(text)


def main():
    roles = sorted(ROLES, key=lambda r: r["name"])
    check(roles)
    inventory = {
        "RoleDetailList": [role_detail(r) for r in roles],
        "UserDetailList": [],
        "GroupDetailList": [],
        "Policies": [],
        "IsTruncated": False,
    }
    usage = {
        "version": 1,
        "roles": {role_arn(r): usage_for(r) for r in roles if not r.get("no_usage")},
    }
    usage["roles"] = dict(sorted(usage["roles"].items()))
    n = write(os.path.join(HERE, "inventory.json"), inventory)
    m = write(os.path.join(HERE, "usage.json"), usage)
    print(f"inventory.json: {len(roles)} roles, {n} bytes; usage.json: {len(usage['roles'])} roles, {m} bytes")


if __name__ == "__main__":
    main()
