-- The tables rubricate's last release before migrations (commit 9a8c684) made: the DDL
-- its stores' metadata.create_all emitted, on SQLite and on PostgreSQL. The two engines
-- emitted the same text but at the five places in braces, where each wrote its own
-- words (an autoincrement key, quoted keywords); tests/test_migrations.py fills them in
-- per engine and checks the result is, to the byte, what that engine emitted. The rows
-- its stores wrote are in last_release_rows.json. No alembic_version table.

CREATE TABLE rubricate_grades (
	id VARCHAR(32) NOT NULL,
	source VARCHAR(16) NOT NULL,
	lesson_id TEXT NOT NULL,
	question_id TEXT NOT NULL,
	student_id TEXT,
	answer TEXT NOT NULL,
	inline TEXT,
	created_at FLOAT NOT NULL,
	updated_at FLOAT NOT NULL,
	revision INTEGER NOT NULL,
	graded_by VARCHAR(32) NOT NULL,
	result TEXT NOT NULL,
	ai_result TEXT NOT NULL,
	label VARCHAR(24) NOT NULL,
	needs_review INTEGER NOT NULL,
	confidence FLOAT NOT NULL,
	rubric_hash VARCHAR(64) NOT NULL,
	exemplar_set VARCHAR(32) NOT NULL,
	refinement VARCHAR(16) NOT NULL,
	refine_attempts INTEGER NOT NULL,
	claimed_at FLOAT,
	review TEXT,
	reviewed_at FLOAT,
	batch_id VARCHAR(32),
	batch_seq INTEGER,
	PRIMARY KEY (id),
	CONSTRAINT uq_rubricate_grades_batch_row UNIQUE (batch_id, batch_seq)
);
CREATE INDEX ix_rubricate_grades_student ON rubricate_grades (student_id);
CREATE INDEX ix_rubricate_grades_refine ON rubricate_grades (refinement, created_at);
CREATE INDEX ix_rubricate_grades_question ON rubricate_grades (lesson_id, question_id, created_at);
CREATE TABLE rubricate_grade_audit (
	id {serial} NOT NULL,
	grade_id VARCHAR(32) NOT NULL,
	at FLOAT NOT NULL,
	who TEXT NOT NULL,
	action VARCHAR(32) NOT NULL,
	{before} TEXT,
	{after} TEXT,
	PRIMARY KEY (id)
);
CREATE INDEX ix_rubricate_grade_audit_grade_id ON rubricate_grade_audit (grade_id);
CREATE TABLE rubricate_grade_revisions (
	grade_id VARCHAR(32) NOT NULL,
	revision INTEGER NOT NULL,
	graded_by VARCHAR(32) NOT NULL,
	created_at FLOAT NOT NULL,
	result TEXT NOT NULL,
	PRIMARY KEY (grade_id, revision),
	FOREIGN KEY(grade_id) REFERENCES rubricate_grades (id) ON DELETE CASCADE
);
CREATE TABLE rubricate_batches (
	id VARCHAR(32) NOT NULL,
	idempotency_key VARCHAR(255),
	status VARCHAR(16) NOT NULL,
	format VARCHAR(8) NOT NULL,
	filename VARCHAR(255),
	total INTEGER NOT NULL,
	done INTEGER NOT NULL,
	failed INTEGER NOT NULL,
	graded INTEGER NOT NULL,
	created_at FLOAT NOT NULL,
	started_at FLOAT,
	finished_at FLOAT,
	resumed_at FLOAT,
	resumed_from INTEGER NOT NULL,
	first_result_at FLOAT,
	PRIMARY KEY (id),
	UNIQUE (idempotency_key)
);
CREATE INDEX ix_rubricate_batches_status ON rubricate_batches (status);
CREATE TABLE rubricate_batch_rows (
	batch_id VARCHAR(32) NOT NULL,
	seq INTEGER NOT NULL,
	line INTEGER NOT NULL,
	row_id TEXT,
	student_id TEXT,
	lesson_id TEXT,
	question_id TEXT,
	answer TEXT,
	answer_hash VARCHAR(64),
	status VARCHAR(8) NOT NULL,
	error TEXT,
	PRIMARY KEY (batch_id, seq),
	FOREIGN KEY(batch_id) REFERENCES rubricate_batches (id) ON DELETE CASCADE
);
CREATE INDEX ix_rubricate_rows_status ON rubricate_batch_rows (batch_id, status, seq);
CREATE TABLE rubricate_batch_grades (
	batch_id VARCHAR(32) NOT NULL,
	answer_hash VARCHAR(64) NOT NULL,
	result TEXT NOT NULL,
	PRIMARY KEY (batch_id, answer_hash),
	FOREIGN KEY(batch_id) REFERENCES rubricate_batches (id) ON DELETE CASCADE
);
CREATE TABLE rubricate_batch_chunks (
	batch_id VARCHAR(32) NOT NULL,
	chunk INTEGER NOT NULL,
	rows INTEGER NOT NULL,
	runs INTEGER NOT NULL,
	regraded INTEGER NOT NULL,
	duplicates INTEGER NOT NULL,
	PRIMARY KEY (batch_id, chunk),
	FOREIGN KEY(batch_id) REFERENCES rubricate_batches (id) ON DELETE CASCADE
);
CREATE TABLE rubricate_release_policies (
	lesson_id TEXT NOT NULL,
	question_id TEXT NOT NULL,
	min_reviewed INTEGER NOT NULL,
	min_accuracy FLOAT NOT NULL,
	updated_at FLOAT NOT NULL,
	PRIMARY KEY (lesson_id, question_id)
);
CREATE TABLE lti_platforms (
	issuer TEXT NOT NULL,
	client_id TEXT NOT NULL,
	data TEXT NOT NULL,
	source TEXT NOT NULL,
	PRIMARY KEY (issuer, client_id)
);
CREATE TABLE lti_states (
	state TEXT NOT NULL,
	nonce TEXT NOT NULL,
	issuer TEXT NOT NULL,
	expires_at FLOAT NOT NULL,
	PRIMARY KEY (state)
);
CREATE TABLE lti_nonces (
	nonce TEXT NOT NULL,
	issuer TEXT NOT NULL,
	expires_at FLOAT NOT NULL,
	PRIMARY KEY (nonce)
);
CREATE TABLE lti_sessions (
	token_hash TEXT NOT NULL,
	kind TEXT NOT NULL,
	data TEXT NOT NULL,
	expires_at FLOAT NOT NULL,
	PRIMARY KEY (token_hash)
);
CREATE TABLE lti_passbacks (
	id {passback_id},
	issuer TEXT NOT NULL,
	client_id TEXT NOT NULL,
	lineitem TEXT NOT NULL,
	score TEXT NOT NULL,
	status TEXT DEFAULT 'pending' NOT NULL,
	attempts INTEGER DEFAULT '0' NOT NULL,
	next_attempt_at FLOAT NOT NULL,
	last_error TEXT,
	created_at FLOAT NOT NULL,
	sent_at FLOAT{passback_key}
);
CREATE INDEX lti_passbacks_due ON lti_passbacks (status, next_attempt_at);
CREATE TABLE lti_holds (
	grade_id TEXT NOT NULL,
	issuer TEXT NOT NULL,
	client_id TEXT NOT NULL,
	lineitem TEXT NOT NULL,
	user_id TEXT NOT NULL,
	due_at FLOAT NOT NULL,
	status TEXT NOT NULL,
	released_at FLOAT,
	PRIMARY KEY (grade_id)
);
CREATE INDEX lti_holds_status ON lti_holds (status, due_at);
CREATE TABLE lti_keys (
	name TEXT NOT NULL,
	pem TEXT NOT NULL,
	created_at FLOAT NOT NULL,
	PRIMARY KEY (name)
);
