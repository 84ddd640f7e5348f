-- The database rubricate's last release before migrations (commit 9a8c684) made:
-- the tables exactly as its stores' metadata.create_all emitted them (sqlite), and
-- rows written through its own stores (grades with revisions, a teacher review
-- and its audit, a batch with rows, chunks and a grade, a release policy, LTI state).
-- No alembic_version table. Loaded by tests/test_migrations.py. (The lti_keys PEM is a
-- placeholder, not a key.)

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
	id INTEGER NOT NULL,
	grade_id VARCHAR(32) NOT NULL,
	at FLOAT NOT NULL,
	who TEXT NOT NULL,
	action VARCHAR(32) NOT NULL,
	"before" TEXT,
	"after" TEXT,
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
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	issuer TEXT NOT NULL,
	client_id TEXT NOT NULL,
	lineitem TEXT NOT NULL,
	score TEXT NOT NULL,
	status TEXT DEFAULT 'pending' NOT NULL,
	attempts INTEGER DEFAULT '0' NOT NULL,
	next_attempt_at FLOAT NOT NULL,
	last_error TEXT,
	created_at FLOAT NOT NULL,
	sent_at FLOAT
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
INSERT INTO rubricate_grade_audit ("id", "grade_id", "at", "who", "action", "before", "after") VALUES (1, 'a2f7356a1fd747ef8528903f0d88794a', 1796558879.5329895, 'teacher@school.example', 'review', '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.9,"max_score":1.0,"percent":0.9,"label":"correct","confidence":0.72,"needs_review":false,"review_reasons":[],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"met","credit":0.9,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: correct. It''s fine.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"used","model":"qwen","reason":null,"comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"embedding+llm","refinement":"none"}', '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.6,"max_score":1.0,"percent":0.6,"label":"partially correct","confidence":0.72,"needs_review":false,"review_reasons":[],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"partial","credit":0.6,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: partially correct. It''s close.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"used","model":"qwen","reason":null,"comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"teacher","refinement":"none"}');
INSERT INTO rubricate_grade_audit ("id", "grade_id", "at", "who", "action", "before", "after") VALUES (2, 'd2abbb711f5e470d8bed8189c6e213eb', 1796558879.5344734, 'regrade', 'embedding', '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.55,"max_score":1.0,"percent":0.55,"label":"partially correct","confidence":0.72,"needs_review":true,"review_reasons":["low confidence"],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"partial","credit":0.55,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: partially correct. It''s fine.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"skipped","model":null,"reason":"interactive budget","comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"embedding","refinement":"pending"}', '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.55,"max_score":1.0,"percent":0.55,"label":"partially correct","confidence":0.72,"needs_review":true,"review_reasons":["low confidence"],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"partial","credit":0.55,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: partially correct. It''s fine.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"skipped","model":null,"reason":"interactive budget","comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"embedding","refinement":"pending"}');
INSERT INTO rubricate_grades ("id", "source", "lesson_id", "question_id", "student_id", "answer", "inline", "created_at", "updated_at", "revision", "graded_by", "result", "ai_result", "label", "needs_review", "confidence", "rubric_hash", "exemplar_set", "refinement", "refine_attempts", "claimed_at", "review", "reviewed_at", "batch_id", "batch_seq") VALUES ('a2f7356a1fd747ef8528903f0d88794a', 'api', 'demo-photosynthesis', 'q1', 's0001', 'Plants use sunlight and water; it''s how they make food.', NULL, 1796558879.5278044, 1796558879.5329895, 3, 'teacher', '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.6,"max_score":1.0,"percent":0.6,"label":"partially correct","confidence":0.72,"needs_review":false,"review_reasons":[],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"partial","credit":0.6,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: partially correct. It''s close.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"used","model":"qwen","reason":null,"comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"teacher","refinement":"none"}', '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.9,"max_score":1.0,"percent":0.9,"label":"correct","confidence":0.72,"needs_review":false,"review_reasons":[],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"met","credit":0.9,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: correct. It''s fine.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"used","model":"qwen","reason":null,"comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"embedding+llm","refinement":"none"}', 'partially_correct', 0, 1.0, '3f2a9c', 'none', 'done', 1, 1796558879.5304155, '{"label": "partially_correct", "comment": "Say which gas is released."}', 1796558879.5329895, NULL, NULL);
INSERT INTO rubricate_grades ("id", "source", "lesson_id", "question_id", "student_id", "answer", "inline", "created_at", "updated_at", "revision", "graded_by", "result", "ai_result", "label", "needs_review", "confidence", "rubric_hash", "exemplar_set", "refinement", "refine_attempts", "claimed_at", "review", "reviewed_at", "batch_id", "batch_seq") VALUES ('d2abbb711f5e470d8bed8189c6e213eb', 'api', 'demo-photosynthesis', 'q1', 's0002', 'Light, water and CO2 become sugar and O2.', NULL, 1796558879.5295966, 1796558879.5344734, 2, 'embedding', '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.55,"max_score":1.0,"percent":0.55,"label":"partially correct","confidence":0.72,"needs_review":true,"review_reasons":["low confidence"],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"partial","credit":0.55,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: partially correct. It''s fine.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"skipped","model":null,"reason":"interactive budget","comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"embedding","refinement":"pending"}', '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.55,"max_score":1.0,"percent":0.55,"label":"partially correct","confidence":0.72,"needs_review":true,"review_reasons":["low confidence"],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"partial","credit":0.55,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: partially correct. It''s fine.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"skipped","model":null,"reason":"interactive budget","comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"embedding","refinement":"pending"}', 'partially_correct', 1, 0.5, '4b1d00', 'ex9', 'pending', 0, NULL, NULL, NULL, NULL, NULL);
INSERT INTO rubricate_grades ("id", "source", "lesson_id", "question_id", "student_id", "answer", "inline", "created_at", "updated_at", "revision", "graded_by", "result", "ai_result", "label", "needs_review", "confidence", "rubric_hash", "exemplar_set", "refinement", "refine_attempts", "claimed_at", "review", "reviewed_at", "batch_id", "batch_seq") VALUES ('58ec60834af44887bd22d4755405804f', 'api', 'demo-photosynthesis', 'q1', NULL, 'Chlorophyll captures light.', '{"prompt": "Where?", "reference_answer": "chloroplasts", "max_score": 1.0, "question_id": null}', 1796558879.5299504, 1796558879.5299504, 1, 'embedding+llm', '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.95,"max_score":1.0,"percent":0.95,"label":"correct","confidence":0.72,"needs_review":false,"review_reasons":[],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"met","credit":0.95,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: correct. It''s fine.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"used","model":"qwen","reason":null,"comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"embedding+llm","refinement":"none"}', '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.95,"max_score":1.0,"percent":0.95,"label":"correct","confidence":0.72,"needs_review":false,"review_reasons":[],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"met","credit":0.95,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: correct. It''s fine.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"used","model":"qwen","reason":null,"comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"embedding+llm","refinement":"none"}', 'correct', 0, 0.72, '3f2a9c', 'none', 'none', 0, NULL, NULL, NULL, NULL, NULL);
INSERT INTO rubricate_grades ("id", "source", "lesson_id", "question_id", "student_id", "answer", "inline", "created_at", "updated_at", "revision", "graded_by", "result", "ai_result", "label", "needs_review", "confidence", "rubric_hash", "exemplar_set", "refinement", "refine_attempts", "claimed_at", "review", "reviewed_at", "batch_id", "batch_seq") VALUES ('6fb12662878e4c6b994b7fc5ef727ec6', 'batch', 'demo-photosynthesis', 'q1', 's0003', 'Sunlight and water.', NULL, 1796558879.5463614, 1796558879.5463614, 1, 'embedding', '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.85,"max_score":1.0,"percent":0.85,"label":"correct","confidence":0.72,"needs_review":false,"review_reasons":[],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"met","credit":0.85,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: correct. It''s fine.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"skipped","model":null,"reason":"interactive budget","comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"embedding","refinement":"pending"}', '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.85,"max_score":1.0,"percent":0.85,"label":"correct","confidence":0.72,"needs_review":false,"review_reasons":[],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"met","credit":0.85,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: correct. It''s fine.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"skipped","model":null,"reason":"interactive budget","comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"embedding","refinement":"pending"}', 'correct', 0, 0.72, '3f2a9c', 'none', 'pending', 0, NULL, NULL, NULL, '9b04c5b4379d4cc2856bf4846428cefe', 0);
INSERT INTO rubricate_grade_revisions ("grade_id", "revision", "graded_by", "created_at", "result") VALUES ('a2f7356a1fd747ef8528903f0d88794a', 1, 'embedding', 1796558879.5278044, '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.55,"max_score":1.0,"percent":0.55,"label":"partially correct","confidence":0.72,"needs_review":true,"review_reasons":["low confidence"],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"partial","credit":0.55,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: partially correct. It''s fine.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"skipped","model":null,"reason":"interactive budget","comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"embedding","refinement":"pending"}');
INSERT INTO rubricate_grade_revisions ("grade_id", "revision", "graded_by", "created_at", "result") VALUES ('d2abbb711f5e470d8bed8189c6e213eb', 1, 'embedding', 1796558879.5295966, '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.55,"max_score":1.0,"percent":0.55,"label":"partially correct","confidence":0.72,"needs_review":true,"review_reasons":["low confidence"],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"partial","credit":0.55,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: partially correct. It''s fine.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"skipped","model":null,"reason":"interactive budget","comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"embedding","refinement":"pending"}');
INSERT INTO rubricate_grade_revisions ("grade_id", "revision", "graded_by", "created_at", "result") VALUES ('58ec60834af44887bd22d4755405804f', 1, 'embedding+llm', 1796558879.5299504, '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.95,"max_score":1.0,"percent":0.95,"label":"correct","confidence":0.72,"needs_review":false,"review_reasons":[],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"met","credit":0.95,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: correct. It''s fine.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"used","model":"qwen","reason":null,"comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"embedding+llm","refinement":"none"}');
INSERT INTO rubricate_grade_revisions ("grade_id", "revision", "graded_by", "created_at", "result") VALUES ('a2f7356a1fd747ef8528903f0d88794a', 2, 'embedding+llm', 1796558879.5312452, '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.9,"max_score":1.0,"percent":0.9,"label":"correct","confidence":0.72,"needs_review":false,"review_reasons":[],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"met","credit":0.9,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: correct. It''s fine.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"used","model":"qwen","reason":null,"comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"embedding+llm","refinement":"none"}');
INSERT INTO rubricate_grade_revisions ("grade_id", "revision", "graded_by", "created_at", "result") VALUES ('a2f7356a1fd747ef8528903f0d88794a', 3, 'teacher', 1796558879.5329895, '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.6,"max_score":1.0,"percent":0.6,"label":"partially correct","confidence":0.72,"needs_review":false,"review_reasons":[],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"partial","credit":0.6,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: partially correct. It''s close.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"used","model":"qwen","reason":null,"comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"teacher","refinement":"none"}');
INSERT INTO rubricate_grade_revisions ("grade_id", "revision", "graded_by", "created_at", "result") VALUES ('d2abbb711f5e470d8bed8189c6e213eb', 2, 'embedding', 1796558879.5344734, '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.55,"max_score":1.0,"percent":0.55,"label":"partially correct","confidence":0.72,"needs_review":true,"review_reasons":["low confidence"],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"partial","credit":0.55,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: partially correct. It''s fine.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"skipped","model":null,"reason":"interactive budget","comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"embedding","refinement":"pending"}');
INSERT INTO rubricate_grade_revisions ("grade_id", "revision", "graded_by", "created_at", "result") VALUES ('6fb12662878e4c6b994b7fc5ef727ec6', 1, 'embedding', 1796558879.5463614, '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.85,"max_score":1.0,"percent":0.85,"label":"correct","confidence":0.72,"needs_review":false,"review_reasons":[],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"met","credit":0.85,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: correct. It''s fine.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"skipped","model":null,"reason":"interactive budget","comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"embedding","refinement":"pending"}');
INSERT INTO rubricate_batches ("id", "idempotency_key", "status", "format", "filename", "total", "done", "failed", "graded", "created_at", "started_at", "finished_at", "resumed_at", "resumed_from", "first_result_at") VALUES ('9b04c5b4379d4cc2856bf4846428cefe', 'key-7b', 'running', 'csv', 'class 7B.csv', 4, 1, 2, 1, 1796558879.5393198, 1796558879.541653, NULL, 1796558879.541653, 1, 1796558879.5457592);
INSERT INTO rubricate_batch_chunks ("batch_id", "chunk", "rows", "runs", "regraded", "duplicates") VALUES ('9b04c5b4379d4cc2856bf4846428cefe', 0, 2, 1, 0, 0);
INSERT INTO rubricate_batch_chunks ("batch_id", "chunk", "rows", "runs", "regraded", "duplicates") VALUES ('9b04c5b4379d4cc2856bf4846428cefe', 2, 1, 0, 0, 0);
INSERT INTO rubricate_batch_grades ("batch_id", "answer_hash", "result") VALUES ('9b04c5b4379d4cc2856bf4846428cefe', 'h1', '{"lesson_id":"demo-photosynthesis","question_id":"q1","student_id":"s0001","score":0.85,"max_score":1.0,"percent":0.85,"label":"correct","confidence":0.72,"needs_review":false,"review_reasons":[],"key_points":[{"id":"inputs","kind":"key_point","text":"Names the inputs: light, water, carbon dioxide","lesson_key_point":"inputs","weight":1.0,"status":"met","credit":0.85,"confidence":0.81,"evidence":null,"feedback":"You named what the plant takes in.","chosen":null,"graders":{}}],"misconceptions":[],"feedback":{"summary":"Overall: correct. It''s fine.","by_lesson_key_point":[]},"graders":{"embedding":{"state":"used","model":"all-MiniLM-L6-v2","reason":null,"comment":null},"llm":{"state":"skipped","model":null,"reason":"interactive budget","comment":null}},"versions":{"rubricate":"0.1.0","embedding_model":"all-MiniLM-L6-v2","llm_model":"qwen","reader_model":null,"rubric_hash":"3f2a9c","calibration":"c1","exemplar_set":"none"},"grade_id":null,"revision":1,"graded_by":"embedding","refinement":"pending"}');
INSERT INTO rubricate_batch_rows ("batch_id", "seq", "line", "row_id", "student_id", "lesson_id", "question_id", "answer", "answer_hash", "status", "error") VALUES ('9b04c5b4379d4cc2856bf4846428cefe', 0, 2, 'r1', 's0003', 'demo-photosynthesis', 'q1', 'Sunlight and water.', 'h1', 'done', NULL);
INSERT INTO rubricate_batch_rows ("batch_id", "seq", "line", "row_id", "student_id", "lesson_id", "question_id", "answer", "answer_hash", "status", "error") VALUES ('9b04c5b4379d4cc2856bf4846428cefe', 1, 3, 'r2', 's0004', 'demo-photosynthesis', 'q1', 'Oxygen in, CO2 out.', 'h2', 'failed', 'grader timed out');
INSERT INTO rubricate_batch_rows ("batch_id", "seq", "line", "row_id", "student_id", "lesson_id", "question_id", "answer", "answer_hash", "status", "error") VALUES ('9b04c5b4379d4cc2856bf4846428cefe', 2, 4, 'r3', 's0005', 'demo-photosynthesis', 'q2', 'In the chloroplasts.', 'h3', 'pending', NULL);
INSERT INTO rubricate_batch_rows ("batch_id", "seq", "line", "row_id", "student_id", "lesson_id", "question_id", "answer", "answer_hash", "status", "error") VALUES ('9b04c5b4379d4cc2856bf4846428cefe', 3, 5, 'r4', NULL, NULL, NULL, NULL, NULL, 'failed', 'missing column: answer');
INSERT INTO rubricate_release_policies ("lesson_id", "question_id", "min_reviewed", "min_accuracy", "updated_at") VALUES ('demo-photosynthesis', 'q1', 5, 0.8, 1796558879.548015);
INSERT INTO lti_holds ("grade_id", "issuer", "client_id", "lineitem", "user_id", "due_at", "status", "released_at") VALUES ('d2abbb711f5e470d8bed8189c6e213eb', 'https://lms.example', 'c1', 'https://lms.example/li/3', 'u1', 1796562479.593779, 'held', NULL);
INSERT INTO lti_keys ("name", "pem", "created_at") VALUES ('tool', '-----BEGIN PRIVATE KEY-----
MIIfake
-----END PRIVATE KEY-----
', 1796558879.6038375);
INSERT INTO lti_passbacks ("id", "issuer", "client_id", "lineitem", "score", "status", "attempts", "next_attempt_at", "last_error", "created_at", "sent_at") VALUES (1, 'https://lms.example', 'c1', 'https://lms.example/li/1', '{"scoreGiven": 1}', 'sent', 1, 1796558879.5794828, NULL, 1796558879.5794828, 1796558879.5889986);
INSERT INTO lti_passbacks ("id", "issuer", "client_id", "lineitem", "score", "status", "attempts", "next_attempt_at", "last_error", "created_at", "sent_at") VALUES (2, 'https://lms.example', 'c1', 'https://lms.example/li/2', '{"scoreGiven": 0.6}', 'pending', 0, 1796558879.5928342, NULL, 1796558879.5928342, NULL);
INSERT INTO lti_platforms ("issuer", "client_id", "data", "source") VALUES ('https://lms.example', 'c1', '{"issuer":"https://lms.example","client_id":"c1","auth_login_url":"https://lms.example/auth","auth_token_url":"https://lms.example/token","jwks_url":"https://lms.example/jwks","deployment_ids":["d1"],"name":""}', 'api');
