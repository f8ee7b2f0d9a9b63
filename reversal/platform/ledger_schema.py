"""The run ledger and webhook queue tables as the app's Prisma migrations create them.

Shared by the durable checks (which only read) and the sandbox's worker (which writes).
Identifiers are quoted, camelCase, as Prisma emits them; statuses are PostgreSQL enums.
SQLite gets the same tables with TEXT in place of enums and timestamps as ISO-8601 text.
"""

POSTGRES_DDL = """
CREATE TYPE "BackgroundFunctionRunStatus" AS ENUM ('RUNNING', 'SUCCEEDED', 'FAILED');
CREATE TYPE "WebhookEventStatus" AS ENUM ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED');

CREATE TABLE "BackgroundFunctionRun" (
    "id" TEXT NOT NULL,
    "runKey" TEXT NOT NULL,
    "functionName" TEXT NOT NULL,
    "runId" TEXT,
    "status" "BackgroundFunctionRunStatus" NOT NULL,
    "attempt" INTEGER NOT NULL DEFAULT 0,
    "dispatchKey" TEXT,
    "correlationId" TEXT,
    "requestedAt" TIMESTAMP(3),
    "startedAt" TIMESTAMP(3) NOT NULL,
    "finishedAt" TIMESTAMP(3),
    "durationMs" INTEGER,
    "lastError" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "BackgroundFunctionRun_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "BackgroundFunctionRun_runKey_key" ON "BackgroundFunctionRun"("runKey");
CREATE INDEX "BackgroundFunctionRun_functionName_startedAt_idx"
    ON "BackgroundFunctionRun"("functionName", "startedAt");
CREATE INDEX "BackgroundFunctionRun_dispatchKey_idx" ON "BackgroundFunctionRun"("dispatchKey");

CREATE TABLE "WebhookEvent" (
    "id" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "eventType" TEXT NOT NULL,
    "dedupeKey" TEXT NOT NULL,
    "status" "WebhookEventStatus" NOT NULL DEFAULT 'PENDING',
    "runAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "lockedAt" TIMESTAMP(3),
    "lockedBy" TEXT,
    "lastError" TEXT,
    "payload" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "WebhookEvent_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "WebhookEvent_dedupeKey_key" ON "WebhookEvent"("dedupeKey");
CREATE INDEX "WebhookEvent_status_runAt_idx" ON "WebhookEvent"("status", "runAt");
"""

SQLITE_DDL = """
CREATE TABLE IF NOT EXISTS "BackgroundFunctionRun" (
    "id" TEXT PRIMARY KEY,
    "runKey" TEXT NOT NULL UNIQUE,
    "functionName" TEXT NOT NULL,
    "runId" TEXT,
    "status" TEXT NOT NULL CHECK ("status" IN ('RUNNING', 'SUCCEEDED', 'FAILED')),
    "attempt" INTEGER NOT NULL DEFAULT 0,
    "dispatchKey" TEXT,
    "correlationId" TEXT,
    "requestedAt" TEXT,
    "startedAt" TEXT NOT NULL,
    "finishedAt" TEXT,
    "durationMs" INTEGER,
    "lastError" TEXT,
    "createdAt" TEXT NOT NULL,
    "updatedAt" TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS "BackgroundFunctionRun_dispatchKey_idx"
    ON "BackgroundFunctionRun"("dispatchKey");
CREATE TABLE IF NOT EXISTS "WebhookEvent" (
    "id" TEXT PRIMARY KEY,
    "provider" TEXT NOT NULL,
    "eventType" TEXT NOT NULL,
    "dedupeKey" TEXT NOT NULL UNIQUE,
    "status" TEXT NOT NULL DEFAULT 'PENDING'
        CHECK ("status" IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    "runAt" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "lockedAt" TEXT,
    "lockedBy" TEXT,
    "lastError" TEXT,
    "payload" TEXT,
    "createdAt" TEXT NOT NULL,
    "updatedAt" TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS "WebhookEvent_status_runAt_idx" ON "WebhookEvent"("status", "runAt");
"""
