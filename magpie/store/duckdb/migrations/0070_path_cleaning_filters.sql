-- The project's path cleaning rules ({regex, alias, order}), applied to path items
-- by a paths insight that asks for them (pathReplacements).
ALTER TABLE projects ADD COLUMN path_cleaning_filters JSON DEFAULT '[]';
